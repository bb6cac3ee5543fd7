"""Textract job control shared by the document steps: typed errors, a job's status, resuming the waiting execution.

The counterpart of transcription.py. What Textract's blocks say is read by textract_blocks.py.
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, Iterator

from media_pipeline import task_tokens
from media_pipeline.aws import client
from media_pipeline.errors import TEXTRACT, aws_error

TOKEN_KIND = "textract"  # task tokens: pk TOKEN#textract#<media_id>
SUCCEEDED = ("SUCCEEDED", "PARTIAL_SUCCESS")


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
