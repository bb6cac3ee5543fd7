"""Powertools Logger, Tracer and Metrics, shared by every function, and the one handler decorator.

Creating these makes no AWS call: metrics are written to the log (EMF), traces go to the X-Ray daemon.
"""
from __future__ import annotations

import functools
import os
from typing import Any, Callable

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "MediaPipeline"))

# Where each kind of event carries the media id (state machine tasks, callbacks' nested state).
_MEDIA_ID_PATH = "media.media_id || state.media.media_id"


def pipeline_handler(function: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """Lambda entry point: correlation id = media id, traced, metrics flushed."""

    @functools.wraps(function)
    @metrics.log_metrics(raise_on_empty_metrics=False)
    @tracer.capture_lambda_handler(capture_response=False)
    @logger.inject_lambda_context(correlation_id_path=_MEDIA_ID_PATH, clear_state=True)
    def wrapper(event: dict[str, Any], context: Any) -> Any:
        return function(event, context)

    return wrapper
