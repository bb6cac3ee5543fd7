"""Probe a video in place (ranged reads from S3) and choose where to process it: Lambda or Fargate."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import video
from media_pipeline.contract import MediaItem, PipelineState, ProbeResult
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.s3_range_reader import S3RangeReader
from media_pipeline.video_probe import probe


def probe_media(media: MediaItem, options: video.VideoOptions) -> ProbeResult:
    source = S3RangeReader(media.bucket, media.key, version_id=media.version_id, size=media.size)
    facts = probe(source)
    route = video.route_for(facts["duration_seconds"], options)
    metrics.add_metric(name="VideoSecondsProbed", unit=MetricUnit.Seconds, value=facts["duration_seconds"])
    logger.info("video probed", extra={"duration_seconds": facts["duration_seconds"], "route": route,
                                       "bytes_read": source.bytes_fetched})
    return ProbeResult(duration_seconds=facts["duration_seconds"], has_audio=facts["has_audio"],
                       has_video=facts["has_video"], size=source.size, format=facts["format"],
                       bit_rate=facts["bit_rate"], streams=facts["streams"], route=route, warnings=facts["warnings"])


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return probe_media(PipelineState.from_state(event).media, video.VideoOptions.from_env()).to_state()
