"""Backfill: one batch of the Distributed Map (statemachines/backfill.asl.json) through the same ingest.

Event (ItemBatcher): {"Items": [{"Key", "Etag", "Size", ...}], "BatchInput": {"bucket", "backfill"}}.
Returns {"items": [{"key", "outcome": "admitted"|"skipped"|"rejected", "reason", "media_id", ...}], "finished_at"}:
the ResultWriter keeps it for the report (media_pipeline/backfill.py).
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline.backfill import ADMITTED, REJECTED, SKIPPED, admit_batch
from media_pipeline.observability import logger, metrics, pipeline_handler


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    batch = event.get("BatchInput") or {}
    result = admit_batch(event.get("Items") or [], bucket=batch["bucket"], backfill=batch["backfill"])
    counts = {name: sum(1 for item in result["items"] if item["outcome"] == name) for name in (ADMITTED, SKIPPED, REJECTED)}
    for name, metric in ((ADMITTED, "BackfillAdmitted"), (SKIPPED, "BackfillSkipped"), (REJECTED, "BackfillRejected")):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=counts[name])
    logger.info("backfill batch", extra={"backfill": batch["backfill"], "counts": counts})
    return result
