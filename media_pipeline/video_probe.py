"""What a media file holds: streams, duration, and whether they decode (PyAV). Plain logic, no AWS call."""
from __future__ import annotations

from typing import Any

import av

from media_pipeline.errors import MediaRejected
from media_pipeline.media_streams import (Source, decode_packet, failure_reason, is_picture, media_duration, open_media,
                                          pick_stream)

# How many packets probe may read to find one decodable frame per stream before calling it corrupt.
PROBE_DECODE_PACKETS = 400


def _describe(stream: Any) -> dict[str, Any]:
    context = stream.codec_context
    described: dict[str, Any] = {"index": stream.index, "type": stream.type,
                                 "codec": context.name if context is not None else None,
                                 "decodable": context is not None}
    if stream.type == "video" and context is not None:
        rate = stream.average_rate or stream.guessed_rate
        described.update(width=context.width, height=context.height,
                         fps=round(float(rate), 3) if rate else None, picture=is_picture(stream))
    elif stream.type == "audio" and context is not None:
        described.update(sample_rate=context.sample_rate, channels=context.channels)
    return described


def _scan_duration(container: Any) -> float:
    """Last packet end time, for formats that carry no duration (raw streams). Reads the whole input."""
    end = 0.0
    for packet in container.demux():
        if packet.pts is not None and packet.time_base:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end


def track_warnings(has_audio: bool, has_video: bool) -> list[dict[str, str]]:
    """The same warnings from probe and extraction, so finalize keeps one of each."""
    warnings = []
    if not has_audio:
        warnings.append({"code": "NO_AUDIO_TRACK", "message": "the video has no audio track: nothing to transcribe"})
    if not has_video:
        warnings.append({"code": "NO_VIDEO_TRACK", "message": "the media has no video track: no thumbnails"})
    return warnings


def _playable_streams(container: Any, media_streams: list[Any]) -> tuple[Any | None, Any | None]:
    """(audio, video) streams to use; MediaRejected when there is neither (no stream, no decoder, only a picture)."""
    if not media_streams:
        raise MediaRejected("the file holds no audio or video stream", code="NO_MEDIA_STREAMS")
    audio, video = pick_stream(container, "audio"), pick_stream(container, "video")
    if audio is None and video is None:
        codecs = sorted({str(s.codec_context.name) if s.codec_context else f"unknown ({s.type})"
                         for s in media_streams})
        if all(s.codec_context is None for s in media_streams):
            raise MediaRejected(f"no decoder for the media's streams: {', '.join(codecs)}", code="UNSUPPORTED_CODEC")
        raise MediaRejected("the file holds no audio or video stream (only a picture)", code="NO_MEDIA_STREAMS")
    return audio, video


def probe(source: Source) -> dict[str, Any]:
    """What the media holds; raises MediaRejected if it cannot be opened or its streams cannot be decoded."""
    container = open_media(source)
    try:
        streams = [_describe(s) for s in container.streams]
        media_streams = [s for s in container.streams if s.type in ("audio", "video")]
        audio, video = _playable_streams(container, media_streams)
        duration = media_duration(container)
        _check_decodable(container, [s for s in (audio, video) if s is not None])
        if duration is None:
            container.seek(0)
            duration = _scan_duration(container)
        warnings = track_warnings(audio is not None, video is not None)
        undecodable = [s for s in media_streams if s.codec_context is None]
        if undecodable:
            warnings.append({"code": "UNSUPPORTED_CODEC", "message": f"{len(undecodable)} stream(s) have no decoder and are ignored"})
        return {
            "duration_seconds": round(duration, 3),
            "has_audio": audio is not None,
            "has_video": video is not None,
            "format": container.format.name,
            "bit_rate": container.bit_rate or None,
            "streams": streams,
            "warnings": warnings,
        }
    except av.FFmpegError as exc:
        raise MediaRejected(f"the media cannot be decoded: {failure_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()


def _check_decodable(container: Any, streams: list[Any]) -> None:
    """Decode one frame of each stream: a file whose headers parse but whose data is garbage is corrupt."""
    pending = {s.index: s for s in streams}
    for count, packet in enumerate(container.demux(*streams)):
        if count >= PROBE_DECODE_PACKETS or not pending:
            break
        if packet.stream.index not in pending:
            continue
        if decode_packet(packet):
            pending.pop(packet.stream.index)
    if pending:
        kinds = ", ".join(sorted(s.type for s in pending.values()))
        raise MediaRejected(f"no {kinds} frame could be decoded", code="CORRUPT_MEDIA")
