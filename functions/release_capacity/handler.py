"""When an execution ends for any reason other than success, give back the capacity its item held.

Step Functions' "Execution Status Change" events (FAILED, TIMED_OUT, ABORTED) reach this function: an item stopped
while its Textract job ran, or while it waited for a slot, must not keep the slot or its place in the queue
(media_pipeline/admission.py). Releasing twice changes nothing.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent

from media_pipeline import textract
from media_pipeline.observability import logger, pipeline_handler


def release_for(execution_name: str, status: str) -> dict[str, Any]:
    media_id = execution_name  # executions are named after their media id (functions/ingest)
    logger.set_correlation_id(media_id)
    outcome = textract.release(media_id)
    logger.info("capacity released for an ended execution", extra={"status": status, **outcome})
    return {"media_id": media_id, "status": status, **outcome}


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = EventBridgeEvent(event).detail
    return release_for(str(detail.get("name") or ""), str(detail.get("status") or ""))
