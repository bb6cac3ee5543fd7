"""The video step both runtimes share: `process_video` runs in the `extract_media` Lambda and the Fargate worker.

It reads the upload through s3_range_reader.S3RangeReader (never held in memory or on disk), probes it
(video_probe.py), extracts its audio for Transcribe (video_audio.py) and its pictures (video_pictures.py), and
uploads each result as it is made.
"""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media_pipeline.media_streams import Progress
from media_pipeline.s3_range_reader import S3RangeReader
from media_pipeline.storage import upload_file
from media_pipeline.video_audio import TRANSCRIBE_MAX_BYTES, TRANSCRIBE_MAX_SECONDS, AudioPart, extract_audio
from media_pipeline.video_pictures import Picture, poster_frame, thumbnails
from media_pipeline.video_probe import probe


@dataclass(frozen=True)
class VideoOptions:
    """Tunables of the video path, from the function or task environment."""

    lambda_max_seconds: float = 600
    thumbnail_every_seconds: float = 60
    max_thumbnails: int = 20
    thumbnail_max_width: int = 320
    poster_max_width: int = 1280
    audio_sample_rate: int = 16000
    max_part_seconds: float = TRANSCRIBE_MAX_SECONDS
    max_part_bytes: int = TRANSCRIBE_MAX_BYTES

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "VideoOptions":
        env = dict(os.environ if env is None else env)
        return cls(
            lambda_max_seconds=float(env.get("VIDEO_LAMBDA_MAX_SECONDS", "600")),
            thumbnail_every_seconds=float(env.get("VIDEO_THUMBNAIL_EVERY_SECONDS", "60")),
            max_thumbnails=int(env.get("VIDEO_MAX_THUMBNAILS", "20")),
            max_part_seconds=float(env.get("VIDEO_AUDIO_PART_MAX_SECONDS", str(TRANSCRIBE_MAX_SECONDS))),
            max_part_bytes=int(env.get("VIDEO_AUDIO_PART_MAX_BYTES", str(TRANSCRIBE_MAX_BYTES))),
        )


AUDIO_AS_IS = "audio"  # probe's route for an audio file Transcribe takes whole (the ASL's AudioNeedsSplitting)


def fits_one_transcription(duration_seconds: float, size: int, options: VideoOptions) -> bool:
    """Whether an audio file is within one Transcribe job's limits as it is (else it is split like a video's)."""
    return duration_seconds <= options.max_part_seconds and size <= options.max_part_bytes


def route_for(duration_seconds: float, options: VideoOptions) -> str:
    """Short videos fit a Lambda's 15 minutes; longer ones go to the Fargate worker."""
    return "lambda" if duration_seconds <= options.lambda_max_seconds else "fargate"


def process_video(bucket: str, key: str, media_id: str, *, settings: Any, version_id: str | None = None,
                  size: int | None = None, options: VideoOptions | None = None,
                  work_dir: str | os.PathLike | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Probe, extract the audio (split for Transcribe), thumbnails and a poster, into results/<id>/video/.

    `progress` (optional) is called as the work moves on: each block read from S3, each packet decoded and
    as bytes are uploaded. The Fargate worker's watchdog counts the calls, and stops the work by raising from it.
    """
    options = options or VideoOptions.from_env()
    out_bucket = settings.media_bucket or bucket
    prefix = f"{settings.results_prefix}{media_id}/video/"
    source = S3RangeReader(bucket, key, version_id=version_id, size=size, on_read=progress)
    facts = probe(source)
    warnings = list(facts["warnings"])
    parts: list[dict[str, Any]] = []
    thumbnail_keys: list[str] = []
    poster_key: str | None = None
    with tempfile.TemporaryDirectory(prefix="media-video-", dir=work_dir) as scratch:
        root = Path(scratch)

        def store_part(part: AudioPart) -> None:
            part_key = upload_file(part.path, out_bucket, f"{prefix}audio-{part.index}.flac", "audio/flac", progress)
            part.path.unlink()
            parts.append({"bucket": out_bucket, "key": part_key, "offset_seconds": part.offset_seconds,
                          "duration_seconds": part.duration_seconds})

        def store_thumbnail(index: int, picture: Picture) -> None:
            thumbnail_keys.append(upload_file(picture.path, out_bucket, f"{prefix}thumbnails/thumb-{index}.jpg",
                                              "image/jpeg", progress))
            picture.path.unlink()

        if facts["has_audio"]:
            extraction = extract_audio(source, root / "audio", sample_rate=options.audio_sample_rate,
                                       max_part_seconds=options.max_part_seconds,
                                       max_part_bytes=options.max_part_bytes, on_part=store_part, progress=progress)
            if extraction.decode_errors:
                warnings.append({"code": "DECODE_ERRORS_SKIPPED",
                                 "message": f"{extraction.decode_errors} damaged audio packets were skipped"})
            if not parts:
                warnings.append({"code": "EMPTY_AUDIO_TRACK", "message": "the audio track holds no samples"})
        if facts["has_video"]:
            thumbnails(source, root / "thumbnails", every_seconds=options.thumbnail_every_seconds,
                       max_count=options.max_thumbnails, max_width=options.thumbnail_max_width,
                       on_picture=store_thumbnail, progress=progress)
            poster = poster_frame(source, root / "poster.jpg", max_width=options.poster_max_width, progress=progress)
            if poster is not None:
                poster_key = upload_file(poster.path, out_bucket, f"{prefix}poster.jpg", "image/jpeg", progress)
            else:
                warnings.append({"code": "NO_POSTER_FRAME", "message": "no video frame could be decoded for a poster"})
    return {
        "audio": {"parts": parts} if parts else None,
        "thumbnail_keys": thumbnail_keys,
        "poster_key": poster_key,
        "duration_seconds": facts["duration_seconds"],
        "warnings": warnings,
    }
