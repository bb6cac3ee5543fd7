"""Powertools Logger, Tracer and Metrics, shared by every function, and the one handler decorator.

Metrics are written to the log (EMF). The Tracer is built on the first invocation, not at import:
the X-Ray SDK creates a client for its daemon when it loads, and importing a handler creates none.
"""
from __future__ import annotations

import functools
import os
import time
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
        started = time.time()
        result = wrapped[0](event, context)
        if in_express_workflow(event) and isinstance(result, dict):
            result = {**result, LAMBDA_RUN: lambda_run(context, started)}
        return result

    return handler


# An Express execution has no history to count its Lambda time from (media_pipeline/cost.py): each step of one
# records its own run in its result, where finalize finds it.
LAMBDA_RUN = "lambda_run"


def in_express_workflow(event: Any) -> bool:
    media = event.get("media") if isinstance(event, dict) else None
    return isinstance(media, dict) and media.get("workflow") == "express"


def lambda_run(context: Any, started: float) -> dict[str, Any]:
    """The function and its handler's time, from its start to its return (ms), for the cost section."""
    return {"function": getattr(context, "function_name", "") or "", "started_ms": int(started * 1000),
            "elapsed_ms": max(1, round((time.time() - started) * 1000))}


# ---- item metrics: one set per finished item, for the dashboard and the alarms (infra/operations.py) ---------------
# Dimensions have a handful of values each (media types, statuses, reason and warning codes): never ids or keys.
# The service dimension is the pipeline's, not the function's, so ingest's rejections and finalize's results add up.
ITEM_METRICS_SERVICE = "media-pipeline"
ITEMS, FINISHED, FAILURES, WARNINGS = "Items", "ItemsFinished", "ItemFailures", "ItemWarnings"
COSTS = {"ItemCost": "total", "AiCost": "ai_total", "OrchestrationCost": "orchestration_total"}


def _item_metric(name: str, value: float, unit: Any, **dimensions: str) -> None:
    from aws_lambda_powertools.metrics import single_metric

    with single_metric(name=name, unit=unit, value=value, namespace=metrics.namespace,
                       default_dimensions={"service": ITEM_METRICS_SERVICE}) as metric:
        for dimension, dimension_value in dimensions.items():
            metric.add_dimension(name=dimension, value=dimension_value)


def record_item(manifest: dict[str, Any]) -> None:
    """Items{media_type, status}, ItemsFinished{status} (the alarms' denominator: alarms cannot sum a SEARCH),
    ItemFailures{reason_code}, ItemWarnings{warning_code} and the item's cost in USD
    {media_type} (summed per hour on the dashboard), as EMF in the function's log."""
    from aws_lambda_powertools.metrics import MetricUnit

    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() == "true":  # single_metric does not check it
        return
    media_type, status = manifest.get("media_type", "unknown"), manifest["status"]
    _item_metric(ITEMS, 1, MetricUnit.Count, media_type=media_type, status=status)
    _item_metric(FINISHED, 1, MetricUnit.Count, status=status)
    if status == "FAILED":
        _item_metric(FAILURES, 1, MetricUnit.Count, reason_code=manifest["error"]["code"])
    for code in sorted({warning["code"] for warning in manifest.get("warnings", [])}):
        _item_metric(WARNINGS, 1, MetricUnit.Count, warning_code=code)
    cost = manifest.get("cost") or {}
    for name, field in COSTS.items():
        if cost.get(field) is not None:
            _item_metric(name, cost[field], MetricUnit.NoUnit, media_type=media_type)
