"""Resume the execution waiting on a Textract job when its SNS notification arrives, and give its slot to the next
waiting item (media_pipeline/admission.py).

Each record is handled on its own: one that cannot be matched to a waiting execution is logged and skipped.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.data_classes import SNSEvent

from media_pipeline import textract
from media_pipeline.errors import PipelineError, TransientError
from media_pipeline.observability import logger, pipeline_handler
from media_pipeline.settings import settings

SUCCEEDED = ("SUCCEEDED", "PARTIAL_SUCCESS")


def handle_notification(message: dict[str, Any]) -> dict[str, Any]:
    job_id, status = message.get("JobId") or "", message.get("Status") or ""
    # JobTag is the media id; the OCR input's key (results/<media_id>/ocr-input.*) names it too.
    media_id = message.get("JobTag") or textract.media_id_from_location(message.get("DocumentLocation") or {},
                                                                         settings().results_prefix)
    summary = {"job_id": job_id, "media_id": media_id, "status": status}
    if message.get("API") not in (None, "StartDocumentTextDetection"):
        logger.info("not a text detection job", extra={**summary, "api": message.get("API")})
        return {**summary, "result": "ignored"}
    if not media_id:
        logger.warning("notification without a job tag", extra=summary)
        return {**summary, "result": "no-tag"}
    logger.set_correlation_id(media_id)
    cause = None
    if status not in SUCCEEDED:
        cause = f"the Textract job {job_id} ended {status}"
        try:
            _, message_text = textract.job_status(job_id)
            cause += f": {message_text}" if message_text else ""
        except PipelineError as exc:
            logger.info("no status message for the failed job", extra={**summary, "error": exc.code})
    result = textract.resume_execution(media_id, job_id, status, cause)
    if result == "no-token":
        logger.info("no execution waits for this job", extra=summary)
    else:
        logger.info("textract job finished", extra={**summary, "result": result})
    # The job no longer counts against the quota: its slot goes to the next waiting item.
    capacity = textract.release(media_id)
    return {**summary, "result": result, "capacity": capacity}


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    results, failures = [], []
    for record in SNSEvent(event).records:
        try:
            message = json.loads(record.sns.message)
            if not isinstance(message, dict):
                raise ValueError("the message is not a JSON object")
        except ValueError as exc:
            logger.warning("unreadable Textract notification", extra={"error": str(exc)})
            results.append({"result": "unreadable"})
            continue
        try:
            results.append(handle_notification(message))
        except Exception as exc:  # noqa: BLE001 - the other records still resume their executions
            logger.exception("could not resume the execution", extra={"job_id": message.get("JobId")})
            failures.append(f"{message.get('JobId')}: {exc}")
            results.append({"job_id": message.get("JobId"), "result": "error"})
    if failures:
        # SNS retries the invocation; records already handled find no token and change nothing.
        raise TransientError(f"{len(failures)} notification(s) failed: {'; '.join(failures)[:2000]}",
                             code="TEXTRACT_CALLBACK_FAILED")
    return {"results": results}
