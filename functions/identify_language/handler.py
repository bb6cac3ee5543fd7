"""The item's language: Comprehend on a document's or image's text, or what Transcribe identified for audio and
video (media_pipeline/language.py). Optional: the state machine keeps a failure as a warning."""
from __future__ import annotations

from typing import Any

from media_pipeline import language
from media_pipeline.contract import PipelineState
from media_pipeline.observability import pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import read_text


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    config = settings()
    if not config.language_identification:
        return language.disabled()
    state = PipelineState.from_state(event)
    return language.identify(state.steps, lambda key: read_text(config.media_bucket, key))
