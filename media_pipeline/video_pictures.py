"""Pictures of a video: thumbnails spread over it and a poster frame, as JPEGs (PyAV). Plain logic, no AWS call."""
from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable

import av
import numpy as np

from media_pipeline.errors import MediaRejected
from media_pipeline.media_streams import (Progress, Source, decode_packet, failure_reason, media_duration, open_media,
                                          pick_stream)


@dataclass
class Picture:
    path: Path
    time_seconds: float
    width: int
    height: int


def _frame_at(container: Any, stream: Any, seconds: float, progress: Progress | None = None) -> Any | None:
    """The first frame at or after `seconds` (from the keyframe before it), or the last one before the end."""
    time_base = stream.time_base
    first_pts = stream.start_time or 0
    try:
        container.seek(first_pts + int(seconds / time_base), stream=stream, backward=True, any_frame=False)
    except av.FFmpegError:
        container.seek(0)
    last = None
    for packet in container.demux(stream):
        if progress is not None:
            progress()
        for frame in decode_packet(packet) or []:
            last = frame
            if frame.time is None or frame.time - float(first_pts * time_base) >= seconds - 1e-3:
                return frame
    return last


def _first_frame(container: Any, stream: Any, progress: Progress | None = None) -> Any | None:
    container.seek(0)
    for packet in container.demux(stream):
        if progress is not None:
            progress()
        frames = decode_packet(packet)
        if frames:
            return frames[0]
    return None


def _write_jpeg(frame: Any, path: Path, max_width: int, first_pts_seconds: float) -> Picture:
    rotation = int(round(getattr(frame, "rotation", 0) or 0)) % 360
    if rotation:
        # Phones record sideways with a display matrix; the picture is turned the way players show it.
        image = np.rot90(frame.to_ndarray(format="rgb24"), k=rotation // 90)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
    width = min(max_width, frame.width)
    height = max(2, int(round(frame.height * width / frame.width / 2)) * 2)
    width = max(2, width // 2 * 2)
    scaled = frame.reformat(width=width, height=height, format="yuvj420p")
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    encoder.qscale = True
    encoder.global_quality = 4 * 118  # FF_QP2LAMBDA * q: q around 3-5 is visually clean at small sizes
    data = b"".join(bytes(p) for p in [*encoder.encode(scaled), *encoder.encode(None)])
    path.write_bytes(data)
    time = float(frame.time) - first_pts_seconds if frame.time is not None else 0.0
    return Picture(path=path, time_seconds=round(max(0.0, time), 3), width=width, height=height)


def thumbnail_times(duration_seconds: float, every_seconds: float, max_count: int) -> list[float]:
    """Mid-points of equal intervals of at least `every_seconds`, at most `max_count` of them."""
    if duration_seconds <= 0 or max_count <= 0:
        return [0.0] if max_count > 0 else []
    interval = max(every_seconds, duration_seconds / max_count)
    count = max(1, min(max_count, int(duration_seconds // interval) or 1))
    return [round(min(interval * (i + 0.5), duration_seconds * (i + 0.5) / count), 3) for i in range(count)]


def thumbnails(source: Source, dest_dir: str | os.PathLike, *, every_seconds: float = 60, max_count: int = 20,
               max_width: int = 320, on_picture: Callable[[int, Picture], None] | None = None,
               progress: Progress | None = None) -> list[Picture]:
    """JPEGs `thumb-<n>.jpg` spread over the video; none when it has no video stream."""
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    container = open_media(source)
    try:
        stream = pick_stream(container, "video")
        if stream is None:
            return []
        stream.thread_type = "AUTO"
        duration = media_duration(container) or 0.0
        first = float((stream.start_time or 0) * stream.time_base)
        pictures: list[Picture] = []
        seen: set[float] = set()
        for seconds in thumbnail_times(duration, every_seconds, max_count):
            frame = _frame_at(container, stream, seconds, progress)
            if frame is None or (frame.time in seen):
                continue
            seen.add(frame.time)
            picture = _write_jpeg(frame, dest / f"thumb-{len(pictures)}.jpg", max_width, first)
            pictures.append(picture)
            if on_picture is not None:
                on_picture(len(pictures) - 1, picture)
        return pictures
    except av.FFmpegError as exc:
        raise MediaRejected(f"the video cannot be decoded: {failure_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()


def poster_frame(source: Source, dest: str | os.PathLike, *, at_fraction: float = 0.1,
                 max_width: int = 1280, progress: Progress | None = None) -> Picture | None:
    """One JPEG at ~10 % of the duration (past intros and fades), or the first decodable frame."""
    container = open_media(source)
    try:
        stream = pick_stream(container, "video")
        if stream is None:
            return None
        duration = media_duration(container) or 0.0
        first = float((stream.start_time or 0) * stream.time_base)
        frame = _frame_at(container, stream, duration * at_fraction, progress) if duration > 0 else None
        if frame is None:
            frame = _first_frame(container, stream, progress)
        if frame is None:
            return None
        return _write_jpeg(frame, Path(dest), max_width, first)
    except av.FFmpegError as exc:
        raise MediaRejected(f"the video cannot be decoded: {failure_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()
