"""Extract a short video's audio (for Transcribe), thumbnails and poster; the Fargate worker runs the same."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import video
from media_pipeline.observability import metrics, pipeline_handler
from media_pipeline.settings import settings


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    media = event["media"]
    result = video.process_video(media["bucket"], media["key"], media["media_id"], settings=settings(),
                                 version_id=media.get("version_id"), size=media.get("size"))
    metrics.add_metric(name="AudioPartsExtracted", unit=MetricUnit.Count,
                       value=len((result["audio"] or {}).get("parts", [])))
    return result
