"""Transcribe job control shared by the start step and the job-state-change callback."""
from __future__ import annotations

import re
from typing import Any

from media_pipeline import task_tokens
from media_pipeline.aws import client
from media_pipeline.errors import TRANSCRIBE, aws_error
from media_pipeline.ids import media_id_from_job_name
from media_pipeline.observability import logger
from media_pipeline.storage import results_key

TOKEN_KIND = "transcribe"
# Failures that mean "there is no speech to transcribe" rather than "the job broke".
_NO_SPEECH = re.compile(r"identify (the )?language|no speech|detect(ed)? (any )?speech|insufficient audio", re.I)


def transcript_key(media_id: str, index: int) -> str:
    return results_key(media_id, f"transcribe-{index}.json")


def _key_of(uri: str) -> str | None:
    """The object key of an S3 URI as Transcribe reports it (s3://bucket/key or https://s3.../bucket/key)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    path = unquote(parsed.path).lstrip("/")
    if parsed.scheme == "s3":
        return path or None
    return path.split("/", 1)[1] if "/" in path else None


def outcome(job: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """('success', output) or ('failure', {'error', 'cause'}) for a finished job; ('running', {}) otherwise."""
    name = job["TranscriptionJobName"]
    status = job.get("TranscriptionJobStatus")
    media_id = media_id_from_job_name(name) or ""
    index = int(name.rsplit("-", 1)[-1]) if media_id else 0
    if status == "COMPLETED":
        # language_score: Transcribe's IdentifiedLanguageScore, when it identified the language (IdentifyLanguage)
        score = {"language_score": job["IdentifiedLanguageScore"]} if job.get("IdentifiedLanguageScore") is not None else {}
        # With content redaction, the transcript read is the redacted one, wherever Transcribe says it wrote it.
        redacted = _key_of((job.get("Transcript") or {}).get("RedactedTranscriptFileUri") or "")
        return "success", {"job_name": name, "transcript_key": redacted or transcript_key(media_id, index),
                           "language": job.get("LanguageCode"), **score, "warnings": []}
    if status == "FAILED":
        reason = job.get("FailureReason") or "Transcribe reported FAILED without a reason"
        if _NO_SPEECH.search(reason):
            return "success", {"job_name": name, "transcript_key": None, "language": None,
                               "warnings": [{"code": "NO_SPEECH_DETECTED", "message": reason}]}
        return "failure", {"error": "TRANSCRIBE_JOB_FAILED", "cause": reason}
    return "running", {}


def resume_execution(job_name: str) -> str:
    """Send the job's outcome to the execution waiting on it (task_tokens.resume_execution). Returns what happened.

    Reading the job fails typed (TRANSCRIBE_*), never swallowed: in a retried start step the execution would
    otherwise wait for a notification that already went by.
    """
    result = task_tokens.resume_execution(TOKEN_KIND, job_name, lambda: _job_outcome(job_name))
    if result == "no-token":
        logger.info("no execution waits for this job", extra={"job_name": job_name})
    return result


def _job_outcome(job_name: str) -> task_tokens.JobOutcome:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        job = client("transcribe").get_transcription_job(TranscriptionJobName=job_name)["TranscriptionJob"]
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, TRANSCRIBE, "GetTranscriptionJob") from exc
    kind, payload = outcome(job)
    if kind == "failure":
        return task_tokens.JobOutcome(kind, error=payload["error"], cause=payload["cause"])
    return task_tokens.JobOutcome(kind, output=payload)
