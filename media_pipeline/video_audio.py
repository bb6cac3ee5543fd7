"""A media file's audio for Amazon Transcribe: mono FLAC parts within Transcribe's limits (PyAV). No AWS call."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import av

from media_pipeline.errors import MediaRejected
from media_pipeline.media_streams import Progress, Source, decode_packet, failure_reason, open_media, pick_stream

# Amazon Transcribe accepts at most 4 hours and 2 GB per job; longer audio is split into parts.
TRANSCRIBE_MAX_SECONDS = 4 * 3600
TRANSCRIBE_MAX_BYTES = 2 * 1024**3
# The FLAC header (STREAMINFO, comment, 8 KiB padding) is kept free below the byte limit.
FLAC_HEADER_BYTES = 16 * 1024
# Fewer decode errors than this are skipped (with a warning); more mean the media is corrupt.
MAX_DECODE_ERROR_RATIO = 0.5


@dataclass
class AudioPart:
    index: int
    path: Path
    offset_seconds: float
    duration_seconds: float
    size: int


@dataclass
class AudioExtraction:
    parts: list[AudioPart] = field(default_factory=list)
    duration_seconds: float = 0.0
    decode_errors: int = 0
    has_audio: bool = True


class _FlacPart:
    """One FLAC file being written; tracks its size so a part is closed before Transcribe's byte limit."""

    def __init__(self, path: Path, sample_rate: int):
        self.path = path
        self.container = av.open(str(path), "w", format="flac")
        self.stream = self.container.add_stream("flac", rate=sample_rate)
        self.stream.layout = "mono"
        self.samples = 0
        self.encoded_samples = 0
        self.bytes = 0

    def predicted_bytes(self, more_samples: int) -> int:
        # Samples still inside the encoder, and the ones to come, counted at their raw 16-bit size.
        raw = (self.samples - self.encoded_samples + more_samples) * 2
        return FLAC_HEADER_BYTES + self.bytes + raw

    def write(self, frame: Any | None) -> None:
        if frame is not None:
            frame.pts = self.samples
            self.samples += frame.samples
        for packet in self.stream.encode(frame):
            self.bytes += packet.size
            self.encoded_samples += packet.duration or 0
            self.container.mux(packet)

    def close(self) -> None:
        self.write(None)
        self.container.close()


class _PartWriter:
    """Writes resampled frames into FLAC parts, closing each part before it would pass Transcribe's limits."""

    def __init__(self, result: AudioExtraction, dest: Path, sample_rate: int, max_samples: int, max_bytes: int,
                 on_part: Callable[[AudioPart], None] | None):
        self.result, self.dest, self.sample_rate = result, dest, sample_rate
        self.max_samples, self.max_bytes, self.on_part = max_samples, max_bytes, on_part
        self.part: _FlacPart | None = None
        self.base_offset: float | None = None  # where the first decoded frame sits on the media's timeline
        self.total_samples = 0

    def write(self, frame: Any) -> None:
        part = self.part
        if part is not None and (part.samples + frame.samples > self.max_samples
                                 or part.predicted_bytes(frame.samples) > self.max_bytes):
            self.finish()
        if self.part is None:
            self.part = _FlacPart(self.dest / f"audio-{len(self.result.parts)}.flac", self.sample_rate)
        self.part.write(frame)
        self.total_samples += frame.samples

    def finish(self) -> None:
        part = self.part
        if part is None:
            return
        part.close()
        offset = (self.base_offset or 0.0) + (self.total_samples - part.samples) / self.sample_rate
        done = AudioPart(index=len(self.result.parts), path=part.path, offset_seconds=round(offset, 3),
                         duration_seconds=round(part.samples / self.sample_rate, 3), size=part.path.stat().st_size)
        self.result.parts.append(done)
        self.part = None
        if self.on_part is not None:
            self.on_part(done)


def _resample(resampler: Any, decoded: Any, sample_rate: int) -> tuple[Any, list[Any]]:
    """(the resampler to go on with, mono 16-bit frames of `decoded`)."""
    try:
        return resampler, resampler.resample(decoded)
    except ValueError:
        # The stream changed layout or rate midway: drain the old converter, start a new one.
        converted = resampler.resample(None)
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        return resampler, converted + resampler.resample(decoded)


def _write_audio(container: Any, stream: Any, writer: _PartWriter, progress: Progress | None) -> int:
    """Decode, resample and write the stream packet by packet (damaged packets are counted); returns packets read."""
    start = float(container.start_time or 0) / av.time_base
    resampler = av.AudioResampler(format="s16", layout="mono", rate=writer.sample_rate)
    packets = 0
    for packet in container.demux(stream):
        packets += 1
        if progress is not None:
            progress()
        frames = decode_packet(packet)
        if frames is None:
            writer.result.decode_errors += 1
            continue
        for decoded in frames:
            if writer.base_offset is None and decoded.time is not None:
                writer.base_offset = max(0.0, float(decoded.time) - start)
            resampler, converted = _resample(resampler, decoded, writer.sample_rate)
            for resampled in converted:
                writer.write(resampled)
    for resampled in resampler.resample(None):
        writer.write(resampled)
    writer.finish()
    return packets


def extract_audio(source: Source, dest_dir: str | os.PathLike, *, sample_rate: int = 16000,
                  max_part_seconds: float = TRANSCRIBE_MAX_SECONDS, max_part_bytes: int = TRANSCRIBE_MAX_BYTES,
                  on_part: Callable[[AudioPart], None] | None = None,
                  progress: Progress | None = None) -> AudioExtraction:
    """Decode the first audio stream to mono FLAC at `sample_rate`, packet by packet, into `audio-<n>.flac`.

    A part is closed before it would pass `max_part_seconds` or `max_part_bytes`; its `offset_seconds`
    is where it starts on the media's timeline. `on_part` is called as each part is finished (e.g. to
    upload and delete it), so at most one part is on disk.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    max_samples = int(max_part_seconds * sample_rate)
    if max_samples <= 0 or max_part_bytes <= FLAC_HEADER_BYTES + 2 * sample_rate // 10:
        raise ValueError("part limits are too small to hold any audio")
    result = AudioExtraction()
    container = open_media(source)
    try:
        stream = pick_stream(container, "audio")
        if stream is None:
            result.has_audio = False
            return result
        writer = _PartWriter(result, dest, sample_rate, max_samples, max_part_bytes, on_part)
        packets = _write_audio(container, stream, writer, progress)
        total_samples = writer.total_samples
        if result.decode_errors and (total_samples == 0 or result.decode_errors > MAX_DECODE_ERROR_RATIO * packets):
            raise MediaRejected(f"the audio cannot be decoded ({result.decode_errors} of {packets} packets failed)",
                                code="CORRUPT_MEDIA")
        result.duration_seconds = round(total_samples / sample_rate, 3)
        return result
    except av.FFmpegError as exc:
        raise MediaRejected(f"the audio cannot be decoded: {failure_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()
