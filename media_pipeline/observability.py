"""Powertools Logger, Tracer and Metrics, shared by every function, and the one handler decorator.

Metrics are written to the log (EMF). The Tracer is built on the first invocation, not at import:
the X-Ray SDK creates a client for its daemon when it loads, and importing a handler creates none.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MediaPipeline"))

# Where each kind of event carries the media id (state machine tasks, callbacks' nested state).
_MEDIA_ID_PATH = "media.media_id || state.media.media_id"


@functools.lru_cache(maxsize=1)
def tracer() -> Tracer:
    return Tracer()


def pipeline_handler(function: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """Lambda entry point: correlation id = media id, traced, metrics flushed."""
    wrapped: list[Callable[[dict[str, Any], Any], Any]] = []

    def build() -> Callable[[dict[str, Any], Any], Any]:
        @metrics.log_metrics(raise_on_empty_metrics=False)
        @tracer().capture_lambda_handler(capture_response=False)
        @logger.inject_lambda_context(correlation_id_path=_MEDIA_ID_PATH, clear_state=True)
        def traced(event: dict[str, Any], context: Any) -> Any:
            return function(event, context)

        return traced

    @functools.wraps(function)
    def handler(event: dict[str, Any], context: Any) -> Any:
        if not wrapped:
            wrapped.append(build())
        return wrapped[0](event, context)

    return handler
