"""Start one asynchronous Textract text detection on the pages that need OCR, and park the task token.

At most TEXTRACT_MAX_JOBS jobs run at once (media_pipeline/admission.py): past that the item waits its turn on the
same task token, and the step that frees a slot starts its job.

Invoked with .waitForTaskToken: the event is {"task_token": ..., "state": <the whole state>}. Textract's SNS
notification reaches textract_callback, which resumes the execution with the job's outcome.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import jobs, textract
from media_pipeline.contract import DocumentAnalysisTask, DocumentNeedsOcr, MediaItem, StateContractError, require
from media_pipeline.observability import logger, metrics, pipeline_handler

def start(task_token: str, media: MediaItem, document: DocumentNeedsOcr) -> dict[str, Any]:
    media_id = media.media_id
    textract.job_request(media_id, document.ocr_input_key)  # configuration errors fail here, before any waiting
    # The token is stored first: the job's notification may arrive before StartDocumentTextDetection returns, and a
    # queued item's job is started by whoever frees a slot.
    jobs.save_task_token(textract.TOKEN_KIND, media_id, task_token=task_token, media_id=media_id)
    outcome = textract.admit(media_id, document.ocr_input_key)
    metrics.add_metric(name="TextractAsyncPages", unit=MetricUnit.Count, value=len(document.ocr_pages))
    if not outcome["admitted"] and "failed" not in outcome:
        metrics.add_metric(name="TextractJobsQueued", unit=MetricUnit.Count, value=1)
        logger.info("textract job queued until a slot is free", extra={"ocr_pages": len(document.ocr_pages)})
    return outcome


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = DocumentAnalysisTask.from_state(event)
    document = require(task.state.steps.document, "steps", "document")
    if not isinstance(document, DocumentNeedsOcr):
        raise StateContractError("steps.document", "ocr_input_key", f"is missing: mode {document.mode!r} needs no OCR")
    return start(task.task_token, task.state.media, document)
