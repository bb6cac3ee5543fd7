"""PII redaction (media_pipeline/pii.py): Comprehend DetectPiiEntities on a document's or image's text, written
redacted beside it; for audio and video, the count of what Transcribe's content redaction replaced. When the
deployment turned it on, any failure is PII_REDACTION_FAILED and the state machine fails the item."""
from __future__ import annotations

from typing import Any

from media_pipeline import pii
from media_pipeline.contract import PipelineState
from media_pipeline.observability import pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import read_json, read_text, results_key, write_json, write_text


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    if not config.pii_redaction:
        return pii.disabled().to_state()
    bucket = config.media_bucket
    files = pii.Files(read_text=lambda key: read_text(bucket, key), read_json=lambda key: read_json(bucket, key),
                      write_text=lambda key, text: write_text(bucket, key, text),
                      write_json=lambda key, value: write_json(bucket, key, value))
    try:
        state = PipelineState.from_state(event)
        return pii.redact_item(state.media.media_id, state.steps, config.keep_unredacted, files, results_key).to_state()
    except Exception as exc:
        raise pii.as_redaction_failure(exc) from exc
