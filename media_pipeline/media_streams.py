"""Opening media with PyAV and finding its streams: what probe, audio extraction and pictures share.

Plain logic, no AWS call. Everything here works on a path or a seekable binary file object (such as
s3_range_reader.S3RangeReader).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union

import av

from media_pipeline.errors import MediaRejected, PipelineError

Source = Union[str, os.PathLike, BinaryIO]
# Called as work moves on (a block read, a packet decoded, bytes uploaded); it may raise to stop the work.
Progress = Callable[[], None]


def open_media(source: Source) -> Any:
    """A PyAV container to read; media that cannot be opened is MediaRejected (CORRUPT_MEDIA)."""
    if hasattr(source, "read"):
        source.seek(0)
        target: Any = source
    else:
        target = str(source)
        if not Path(target).exists():
            raise FileNotFoundError(target)
    try:
        return av.open(target, mode="r", metadata_errors="ignore")
    except PipelineError:
        raise
    except av.FFmpegError as exc:
        raise MediaRejected(f"the media cannot be opened: {failure_reason(exc)}", code="CORRUPT_MEDIA") from exc


def failure_reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def decode_packet(packet: Any) -> list[Any] | None:
    """Frames of one packet, or None when the packet is damaged (decoders name damage differently)."""
    try:
        return packet.decode()
    except av.FFmpegError:
        return None


def is_picture(stream: Any) -> bool:
    """Cover art in an audio file is a 'video' stream of one picture, not a video."""
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def pick_stream(container: Any, kind: str) -> Any | None:
    for stream in container.streams:
        if stream.type == kind and stream.codec_context is not None and not is_picture(stream):
            return stream
    return None


def media_duration(container: Any) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    durations = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(durations) if durations else None
