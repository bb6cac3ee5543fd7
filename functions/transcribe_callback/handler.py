"""Resume the execution waiting on a Transcribe job when EventBridge reports the job's new state."""
from __future__ import annotations

from typing import Any

from media_pipeline.observability import logger, pipeline_handler
from media_pipeline.transcription import resume_execution


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    detail = event.get("detail") or {}
    name = detail.get("TranscriptionJobName", "")
    logger.info("transcription job changed state", extra={"job_name": name, "status": detail.get("TranscriptionJobStatus")})
    return {"job_name": name, "result": resume_execution(name)}
