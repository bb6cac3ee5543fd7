"""Reconcile, on a schedule (EventBridge) or invoked by `media-pipeline reconcile`: every upload ends in a manifest.

The scheduled event carries no options; an invocation may pass {"dry_run": true, "grace_seconds": 900}.
Returns the report (media_pipeline.reconcile.Report) as JSON.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.reconcile import RECORDED_FAILED, RESENT, reconcile
from media_pipeline.settings import settings


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    options = event if isinstance(event, dict) and event.get("source") != "aws.events" else {}
    report = reconcile(dry_run=bool(options.get("dry_run", False)),
                       grace_seconds=int(options.get("grace_seconds", settings().reconcile_grace_seconds)))
    if not report.dry_run:
        metrics.add_metric(name="UploadsResent", unit=MetricUnit.Count, value=report.actions.get(RESENT, 0))
        metrics.add_metric(name="EndedExecutionsRecorded", unit=MetricUnit.Count,
                           value=report.actions.get(RECORDED_FAILED, 0))
    logger.info("reconciled", extra={"checked": report.checked, "counts": report.counts, "actions": report.actions})
    return report.as_dict()
