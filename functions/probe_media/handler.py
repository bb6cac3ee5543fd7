"""Probe a video or an audio file in place (ranged reads from S3) and choose where to process it.

Video: the worker in a Lambda or on Fargate (`route` lambda | fargate). Audio: "audio" when Transcribe takes the
file as it is (within its 4 h / 2 GB per job), else the worker's route, which splits it into parts as for a video.
"""
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
    if media.media_type == "audio":
        if video.fits_one_transcription(facts["duration_seconds"], source.size, options):
            route = video.AUDIO_AS_IS
        # An audio file has no pictures: that is not worth a warning.
        facts["warnings"] = [w for w in facts["warnings"] if w["code"] != "NO_VIDEO_TRACK"]
    metrics.add_metric(name="MediaSecondsProbed", unit=MetricUnit.Seconds, value=facts["duration_seconds"])
    logger.info("media probed", extra={"duration_seconds": facts["duration_seconds"], "route": route,
                                       "bytes_read": source.bytes_fetched})
    return ProbeResult(duration_seconds=facts["duration_seconds"], has_audio=facts["has_audio"],
                       has_video=facts["has_video"], size=source.size, format=facts["format"],
                       bit_rate=facts["bit_rate"], streams=facts["streams"], route=route, warnings=facts["warnings"])


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return probe_media(PipelineState.from_state(event).media, video.VideoOptions.from_env()).to_state()
