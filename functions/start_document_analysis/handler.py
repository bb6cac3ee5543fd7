"""Start one asynchronous Textract text detection on the pages that need OCR, and park the task token.

Invoked with .waitForTaskToken: the event is {"task_token": ..., "state": <the whole state>}. Textract's SNS
notification reaches textract_callback, which resumes the execution with the job's outcome.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import jobs, textract
from media_pipeline.aws import client
from media_pipeline.contract import DocumentAnalysisTask, DocumentNeedsOcr, MediaItem, StateContractError, require
from media_pipeline.errors import PipelineError
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.settings import settings

FINISHED = ("SUCCEEDED", "PARTIAL_SUCCESS", "FAILED")


def job_request(media_id: str, ocr_input_key: str) -> dict[str, Any]:
    config = settings()
    if not config.textract_sns_topic_arn or not config.textract_role_arn:
        raise PipelineError("TEXTRACT_SNS_TOPIC_ARN and TEXTRACT_ROLE_ARN must be set: without them no notification "
                            "would ever resume the execution", code="TEXTRACT_NOT_CONFIGURED")
    return {
        "DocumentLocation": {"S3Object": {"Bucket": config.media_bucket, "Name": ocr_input_key}},
        "ClientRequestToken": media_id,  # a retry gets the same job back: no second paid job
        "JobTag": media_id,  # the notification carries it back to this execution's token
        "NotificationChannel": {"SNSTopicArn": config.textract_sns_topic_arn, "RoleArn": config.textract_role_arn},
    }


def start(task_token: str, media: MediaItem, document: DocumentNeedsOcr) -> dict[str, Any]:
    media_id = media.media_id
    request = job_request(media_id, document.ocr_input_key)
    # The token is stored first: the job's notification may arrive before StartDocumentTextDetection returns.
    jobs.save_task_token(textract.TOKEN_KIND, media_id, task_token=task_token, media_id=media_id)
    with textract.textract_errors("StartDocumentTextDetection"):
        job_id = client("textract").start_document_text_detection(**request)["JobId"]
    metrics.add_metric(name="TextractJobsStarted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="TextractAsyncPages", unit=MetricUnit.Count, value=len(document.ocr_pages))
    logger.info("textract job started", extra={"job_id": job_id, "ocr_pages": len(document.ocr_pages)})
    # A retry of this state may get back a job that already finished, whose notification resumed nobody and
    # never will. An error reading its status or resuming must fail the step (Retry/Catch see it): swallowed, the
    # execution would wait out the task's whole timeout.
    status, message = textract.job_status(job_id)
    resumed = textract.resume_execution(media_id, job_id, status, message) if status in FINISHED else None
    return {"job_id": job_id, "status": status, "resumed": resumed}


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = DocumentAnalysisTask.from_state(event)
    document = require(task.state.steps.document, "steps", "document")
    if not isinstance(document, DocumentNeedsOcr):
        raise StateContractError("steps.document", "ocr_input_key", f"is missing: mode {document.mode!r} needs no OCR")
    return start(task.task_token, task.state.media, document)
