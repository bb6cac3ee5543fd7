"""Give back the capacity an ended execution held, and start queued jobs for the slots that are free.

- Step Functions' "Execution Status Change" events (FAILED, TIMED_OUT, ABORTED): an item stopped while its Textract
  job ran, or while it waited for a slot, must not keep the slot or its place in the queue. Releasing twice changes
  nothing.
- A schedule (every few minutes, infra/stack.py): a sweep that dispatches waiting items to the slots whose lease ran
  out (a release that was lost) or whose dispatcher died before starting their job (media_pipeline/admission.py).
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from media_pipeline import textract
from media_pipeline.observability import logger, pipeline_handler

SCHEDULED = "Scheduled Event"


def release_for(execution_name: str, status: str) -> dict[str, Any]:
    media_id = execution_name  # executions are named after their media id (functions/ingest)
    logger.set_correlation_id(media_id)
    outcome = textract.release(media_id)
    logger.info("capacity released for an ended execution", extra={"status": status, **outcome})
    return {"media_id": media_id, "status": status, **outcome}


def sweep() -> dict[str, Any]:
    started = sorted(textract.dispatch())
    if started:
        logger.info("the sweep started queued jobs", extra={"started_for": started})
    return {"sweep": True, "started_for": started}


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    received = EventBridgeEvent(event)
    if received.detail_type == SCHEDULED:
        return sweep()
    detail = received.detail
    return release_for(str(detail.get("name") or ""), str(detail.get("status") or ""))
