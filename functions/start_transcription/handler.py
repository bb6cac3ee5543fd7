"""Start one Transcribe job for one part and park the execution's task token until the job ends."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import jobs
from media_pipeline.aws import client
from media_pipeline.contract import AudioPart, MediaItem, TranscriptionTask
from media_pipeline.errors import MediaRejected, ThrottledError
from media_pipeline.ids import transcribe_job_name
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import s3_uri
from media_pipeline.transcription import TOKEN_KIND, resume_execution, transcript_key


REDACTION_LANGUAGES = ("en-US", "es-US")


def job_request(media: MediaItem, part: AudioPart, index: int) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TranscriptionJobName": transcribe_job_name(media.media_id, index),
        "Media": {"MediaFileUri": s3_uri(part.bucket, part.key)},
        "OutputBucketName": settings().media_bucket,
        "OutputKey": transcript_key(media.media_id, index),
    }
    if settings().transcribe_data_access_role_arn:
        # Past the account's concurrent-job quota Transcribe queues the job (QUEUED) instead of refusing it.
        request["JobExecutionSettings"] = {"AllowDeferredExecution": True,
                                           "DataAccessRoleArn": settings().transcribe_data_access_role_arn}
    language = settings().transcribe_language
    if settings().pii_redaction:
        # Transcribe redacts batch transcripts in en-US and es-US only, and not with language identification. It
        # writes the redacted transcript ([PII]) as RedactedTranscriptFileUri, the unredacted one only when kept.
        request["LanguageCode"] = language if language in REDACTION_LANGUAGES else REDACTION_LANGUAGES[0]
        request["ContentRedaction"] = {
            "RedactionType": "PII",
            "RedactionOutput": "redacted_and_unredacted" if settings().keep_unredacted else "redacted"}
    elif language in ("", "auto"):
        request["IdentifyLanguage"] = True
    else:
        request["LanguageCode"] = language
    return request


def start(task_token: str, media: MediaItem, part: AudioPart, index: int) -> dict[str, Any]:
    request = job_request(media, part, index)
    name = request["TranscriptionJobName"]
    # The token is stored first: the job's state change event may arrive before start returns.
    jobs.save_task_token(TOKEN_KIND, name, task_token=task_token, media_id=media.media_id)
    transcribe = client("transcribe")
    try:
        transcribe.start_transcription_job(**request)
        metrics.add_metric(name="TranscriptionJobsStarted", unit=MetricUnit.Count, value=1)
        return {"job_name": name, "started": True}
    except transcribe.exceptions.ConflictException:
        # A retry of this state: the job exists (deterministic name), so no second paid job is started.
        outcome = resume_execution(name)
        logger.info("transcription job already exists", extra={"job_name": name, "outcome": outcome})
        return {"job_name": name, "started": False, "outcome": outcome}
    except transcribe.exceptions.LimitExceededException as exc:
        raise ThrottledError(f"Transcribe is throttling: {exc}", code="TRANSCRIBE_THROTTLED") from exc
    except transcribe.exceptions.BadRequestException as exc:
        raise MediaRejected(f"Transcribe rejected the media: {exc}", code="TRANSCRIBE_REJECTED") from exc


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = TranscriptionTask.from_state(event)
    return start(task.task_token, task.media, task.part, int(task.index))
