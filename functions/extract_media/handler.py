"""Extract a short video's audio (for Transcribe), thumbnails and poster; the Fargate worker runs the same."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import video
from media_pipeline.contract import MediaItem, PipelineState, VideoResult
from media_pipeline.observability import metrics, pipeline_handler
from media_pipeline.settings import settings


def extract(media: MediaItem) -> VideoResult:
    result = VideoResult.from_state(video.process_video(media.bucket, media.key, media.media_id, settings=settings(),
                                                        version_id=media.version_id, size=media.size))
    metrics.add_metric(name="AudioPartsExtracted", unit=MetricUnit.Count, value=len(result.audio_parts))
    return result


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return extract(PipelineState.from_state(event).media).to_state()
