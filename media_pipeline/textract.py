"""Textract job control shared by the document steps: typed errors, a job's status, resuming the waiting execution.

The counterpart of transcription.py. What Textract's blocks say is read by textract_blocks.py.
"""
from __future__ import annotations

import contextlib
import json
import re
from typing import Any, Iterator

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import admission, jobs, task_tokens
from media_pipeline.aws import client
from media_pipeline.errors import TEXTRACT, PipelineError, aws_error
from media_pipeline.observability import logger, metrics
from media_pipeline.settings import settings

TOKEN_KIND = "textract"  # task tokens: pk TOKEN#textract#<media_id>
SUCCEEDED = ("SUCCEEDED", "PARTIAL_SUCCESS")
FINISHED = SUCCEEDED + ("FAILED",)
CAPACITY = "textract"  # admission.py: asynchronous jobs at once, at most settings().textract_max_jobs


@contextlib.contextmanager
def textract_errors(action: str) -> Iterator[None]:
    """Around every Textract call: boto errors leave as the typed failure `errors.aws_error` names (TEXTRACT_*)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, TEXTRACT, action) from exc


def job_status(job_id: str) -> tuple[str, str | None]:
    """(JobStatus, StatusMessage) with the smallest possible page of results."""
    with textract_errors("GetDocumentTextDetection"):
        response = client("textract").get_document_text_detection(JobId=job_id, MaxResults=1)
    return response.get("JobStatus", "IN_PROGRESS"), response.get("StatusMessage")


def resume_execution(media_id: str, job_id: str, status: str, cause: str | None = None) -> str:
    """Send a finished job's outcome to the execution waiting on it, then forget the token.

    Returns what happened ('success', 'failure', 'no-token', 'stale-token'), for logs and tests.
    """
    def outcome() -> task_tokens.JobOutcome:
        if status in SUCCEEDED:
            return task_tokens.JobOutcome("success", output={"job_id": job_id, "status": status})
        return task_tokens.JobOutcome("failure", error="TEXTRACT_JOB_FAILED",
                                      cause=cause or f"the Textract job {job_id} ended {status}")

    return task_tokens.resume_execution(TOKEN_KIND, media_id, outcome)


def media_id_from_location(location: dict[str, Any], results_prefix: str) -> str | None:
    """The media id from an OCR input key (results/<media_id>/ocr-input.*): the fallback when JobTag is empty."""
    name = (location or {}).get("S3ObjectName") or ""
    match = re.fullmatch(re.escape(results_prefix) + r"([0-9a-f]{32})/ocr-input\.[a-z]+", name)
    return match.group(1) if match else None


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


def start_job(media_id: str, ocr_input_key: str) -> dict[str, Any]:
    """Start (or, by ClientRequestToken, find again) the item's text detection job.

    A retry may get back a job that already finished, whose notification resumed nobody and never will: its outcome
    is sent now. An error reading its status or resuming fails the call (Retry/Catch see it): swallowed, the
    execution would wait out the task's whole timeout.
    """
    request = job_request(media_id, ocr_input_key)
    with textract_errors("StartDocumentTextDetection"):
        job_id = client("textract").start_document_text_detection(**request)["JobId"]
    metrics.add_metric(name="TextractJobsStarted", unit=MetricUnit.Count, value=1)
    logger.info("textract job started", extra={"job_id": job_id, "media_id": media_id})
    status, message = job_status(job_id)
    resumed = resume_execution(media_id, job_id, status, message) if status in FINISHED else None
    return {"job_id": job_id, "status": status, "resumed": resumed}


def admit(media_id: str, ocr_input_key: str) -> dict[str, Any]:
    """Start the item's job if a slot is free, else queue it (its execution waits on its parked task token)."""
    if media_id in admission.holders(CAPACITY):  # a retried start step that holds its slot already
        return {"admitted": True, **start_job(media_id, ocr_input_key)}
    admission.enqueue(CAPACITY, media_id, {"ocr_input_key": ocr_input_key})
    started = dispatch()
    if media_id in started:  # dispatched: started, or failed and told its execution so ("failed")
        return {"admitted": "failed" not in started[media_id], **started[media_id], "started_for": sorted(started)}
    return {"admitted": False, "started_for": sorted(started)}


def dispatch() -> dict[str, dict[str, Any]]:
    """Free slots to the oldest waiting items, whose jobs start now."""
    config = settings()
    return admission.dispatch(CAPACITY, config.textract_max_jobs, config.capacity_lease_seconds, _start_admitted)


def release(media_id: str) -> dict[str, Any]:
    """The item's job ended, or its execution did: its slot (or its place in the queue) goes to the next item."""
    released = admission.release(CAPACITY, media_id)
    left = admission.leave_queue(CAPACITY, media_id)
    return {"released": released, "left_queue": left, "started_for": sorted(dispatch())}


def _start_admitted(waiter: admission.Waiter) -> dict[str, Any]:
    """Start a dispatched item's job. A failure goes to that item's own execution (its start step's Retry and Catch
    see it, as if it had been raised there) and its slot is given back; the dispatcher carries on. When even that
    cannot be said (SendTaskFailure refused), the original error is raised: the dispatcher's own retry takes over."""
    try:
        return start_job(waiter.media_id, waiter.request["ocr_input_key"])
    except Exception as exc:  # noqa: BLE001 - whatever it is, the waiting execution must hear of it
        failure = exc
    error, cause = ((type(failure).__name__, failure.as_dict()) if isinstance(failure, PipelineError) else
                    ("PipelineError", {"code": "TEXTRACT_START_FAILED", "message": f"{type(failure).__name__}: {failure}"}))
    logger.warning("could not start a dispatched textract job",
                   extra={"media_id": waiter.media_id, "reason_code": cause["code"], "reason": cause["message"]})
    admission.release(CAPACITY, waiter.media_id)
    token = jobs.get_task_token(TOKEN_KIND, waiter.media_id)
    if token:
        try:
            task_tokens.send_outcome(token, task_tokens.JobOutcome("failure", error=error, cause=json.dumps(cause)))
        except PipelineError:
            raise failure from None
        jobs.delete_task_token(TOKEN_KIND, waiter.media_id)
    return {"failed": cause["code"]}
