"""Video: probe, audio for Transcribe, thumbnails and a poster frame (PyAV), streamed from S3.

Everything here works on a path or a seekable binary file object. `S3RangeReader` is such an object
over S3 ranged GETs, so a two-hour video is read in bounded blocks, never held in memory or on disk.
`process_video` is the one function both the `extract_media` Lambda and the Fargate worker run.
"""
from __future__ import annotations

import collections
import io
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO, Callable, Union

import av
import numpy as np

from media_pipeline.aws import client
from media_pipeline.errors import MediaRejected, PipelineError, TransientError, upload_read_error
from media_pipeline.storage import upload_file

# Amazon Transcribe accepts at most 4 hours and 2 GB per job; longer audio is split into parts.
TRANSCRIBE_MAX_SECONDS = 4 * 3600
TRANSCRIBE_MAX_BYTES = 2 * 1024**3
# The FLAC header (STREAMINFO, comment, 8 KiB padding) is kept free below the byte limit.
FLAC_HEADER_BYTES = 16 * 1024
# How many packets probe may read to find one decodable frame per stream before calling it corrupt.
PROBE_DECODE_PACKETS = 400
# Fewer decode errors than this are skipped (with a warning); more mean the media is corrupt.
MAX_DECODE_ERROR_RATIO = 0.5

Source = Union[str, os.PathLike, BinaryIO]
# Called as work moves on (a block read, a packet decoded, bytes uploaded); it may raise to stop the work.
Progress = Callable[[], None]


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


# --- reading from S3 -------------------------------------------------------------------------------

class S3RangeReader(io.RawIOBase):
    """A read-only, seekable file over one S3 object, fetched in blocks by ranged GETs.

    At most `max_blocks` buffers of `block_size` bytes are ever allocated; they are reused (least
    recently used first), so memory stays flat whatever the object's size, and sequential reads cost
    one GET per block.
    """

    def __init__(self, bucket: str, key: str, *, version_id: str | None = None, size: int | None = None,
                 block_size: int = 4 * 1024 * 1024, max_blocks: int = 4, on_read: Progress | None = None):
        super().__init__()
        self.bucket, self.key, self.version_id = bucket, key, version_id
        self.on_read = on_read
        self.block_size, self.max_blocks = block_size, max(1, max_blocks)
        self._blocks: collections.OrderedDict[int, tuple[bytearray, int]] = collections.OrderedDict()
        self._position = 0
        self.requests = 0
        self.bytes_fetched = 0
        self.size = size if size is not None else self._head_size()

    def _extra(self) -> dict[str, str]:
        return {"VersionId": self.version_id} if self.version_id else {}

    def _head_size(self) -> int:
        try:
            return int(client("s3").head_object(Bucket=self.bucket, Key=self.key, **self._extra())["ContentLength"])
        except Exception as exc:  # noqa: BLE001 - translated into a typed failure
            raise _s3_failure(exc, self.bucket, self.key, self.version_id) from exc

    def _block(self, index: int) -> memoryview:
        cached = self._blocks.get(index)
        if cached is not None:
            self._blocks.move_to_end(index)
            return memoryview(cached[0])[:cached[1]]
        if len(self._blocks) >= self.max_blocks:
            buffer = self._blocks.popitem(last=False)[1][0]
        else:
            buffer = bytearray(self.block_size)
        start = index * self.block_size
        length = min(self.size, start + self.block_size) - start
        view = memoryview(buffer)
        try:
            response = client("s3").get_object(Bucket=self.bucket, Key=self.key,
                                               Range=f"bytes={start}-{start + length - 1}", **self._extra())
            body, got = response["Body"], 0
            while got < length:  # read straight into the reused buffer: no per-block allocation
                count = body.readinto(view[got:length])
                if not count:
                    break
                got += count
        except Exception as exc:  # noqa: BLE001 - translated into a typed failure
            raise _s3_failure(exc, self.bucket, self.key, self.version_id) from exc
        if got < length:
            raise TransientError(f"short read of s3://{self.bucket}/{self.key} at {start}: {got} of {length} bytes",
                                 code="S3_READ_FAILED")
        self.requests += 1
        self.bytes_fetched += length
        self._blocks[index] = (buffer, length)
        if self.on_read is not None:
            self.on_read()
        return view[:length]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), max(0, self.size - self._position))
        done = 0
        while done < wanted:
            index, within = divmod(self._position, self.block_size)
            block = self._block(index)
            count = min(wanted - done, len(block) - within)
            if count <= 0:
                break
            view[done:done + count] = block[within:within + count]
            done += count
            self._position += count
        return done

    @property
    def buffered_bytes(self) -> int:
        return sum(len(buffer) for buffer, _ in self._blocks.values())


def _s3_failure(exc: Exception, bucket: str, key: str, version_id: str | None = None) -> PipelineError:
    return upload_read_error(exc, bucket, key, version_id)


# --- opening and probing ---------------------------------------------------------------------------

def _open(source: Source) -> Any:
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
        raise MediaRejected(f"the media cannot be opened: {_reason(exc)}", code="CORRUPT_MEDIA") from exc


def _reason(exc: Exception) -> str:
    return getattr(exc, "strerror", None) or str(exc)


def _decode(packet: Any) -> list[Any] | None:
    """Frames of one packet, or None when the packet is damaged (decoders name damage differently)."""
    try:
        return packet.decode()
    except av.FFmpegError:
        return None


def _is_picture(stream: Any) -> bool:
    """Cover art in an audio file is a 'video' stream of one picture, not a video."""
    try:
        return bool(stream.disposition & av.stream.Disposition.attached_pic)
    except (AttributeError, TypeError):
        return False


def _describe(stream: Any) -> dict[str, Any]:
    context = stream.codec_context
    described: dict[str, Any] = {"index": stream.index, "type": stream.type,
                                 "codec": context.name if context is not None else None,
                                 "decodable": context is not None}
    if stream.type == "video" and context is not None:
        rate = stream.average_rate or stream.guessed_rate
        described.update(width=context.width, height=context.height,
                         fps=round(float(rate), 3) if rate else None, picture=_is_picture(stream))
    elif stream.type == "audio" and context is not None:
        described.update(sample_rate=context.sample_rate, channels=context.channels)
    return described


def _pick(container: Any, kind: str) -> Any | None:
    for stream in container.streams:
        if stream.type == kind and stream.codec_context is not None and not _is_picture(stream):
            return stream
    return None


def _duration(container: Any) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    durations = [float(s.duration * s.time_base) for s in container.streams if s.duration and s.time_base]
    return max(durations) if durations else None


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


def probe(source: Source) -> dict[str, Any]:
    """What the media holds; raises MediaRejected if it cannot be opened or its streams cannot be decoded."""
    container = _open(source)
    try:
        streams = [_describe(s) for s in container.streams]
        media_streams = [s for s in container.streams if s.type in ("audio", "video")]
        if not media_streams:
            raise MediaRejected("the file holds no audio or video stream", code="NO_MEDIA_STREAMS")
        audio, video = _pick(container, "audio"), _pick(container, "video")
        if audio is None and video is None:
            codecs = sorted({str(s.codec_context.name) if s.codec_context else f"unknown ({s.type})"
                             for s in media_streams})
            if all(s.codec_context is None for s in media_streams):
                raise MediaRejected(f"no decoder for the media's streams: {', '.join(codecs)}", code="UNSUPPORTED_CODEC")
            raise MediaRejected("the file holds no audio or video stream (only a picture)", code="NO_MEDIA_STREAMS")
        duration = _duration(container)
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
        raise MediaRejected(f"the media cannot be decoded: {_reason(exc)}", code="CORRUPT_MEDIA") from exc
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
        if _decode(packet):
            pending.pop(packet.stream.index)
    if pending:
        kinds = ", ".join(sorted(s.type for s in pending.values()))
        raise MediaRejected(f"no {kinds} frame could be decoded", code="CORRUPT_MEDIA")


def route_for(duration_seconds: float, options: VideoOptions) -> str:
    """Short videos fit a Lambda's 15 minutes; longer ones go to the Fargate worker."""
    return "lambda" if duration_seconds <= options.lambda_max_seconds else "fargate"


# --- audio -----------------------------------------------------------------------------------------

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
    container = _open(source)
    try:
        stream = _pick(container, "audio")
        if stream is None:
            result.has_audio = False
            return result
        start = float(container.start_time or 0) / av.time_base
        resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
        part: _FlacPart | None = None
        base_offset: float | None = None
        total_samples = 0
        packets = 0

        def finish() -> None:
            nonlocal part
            if part is None:
                return
            part.close()
            index = len(result.parts)
            done = AudioPart(index=index, path=part.path,
                             offset_seconds=round((base_offset or 0.0) + (total_samples - part.samples) / sample_rate, 3),
                             duration_seconds=round(part.samples / sample_rate, 3), size=part.path.stat().st_size)
            result.parts.append(done)
            part = None
            if on_part is not None:
                on_part(done)

        def write(frame: Any) -> None:
            nonlocal part, total_samples
            if part is not None and (part.samples + frame.samples > max_samples
                                     or part.predicted_bytes(frame.samples) > max_part_bytes):
                finish()
            if part is None:
                part = _FlacPart(dest / f"audio-{len(result.parts)}.flac", sample_rate)
            part.write(frame)
            total_samples += frame.samples

        for packet in container.demux(stream):
            packets += 1
            if progress is not None:
                progress()
            frames = _decode(packet)
            if frames is None:
                result.decode_errors += 1
                continue
            for decoded in frames:
                if base_offset is None and decoded.time is not None:
                    base_offset = max(0.0, float(decoded.time) - start)
                try:
                    converted = resampler.resample(decoded)
                except ValueError:
                    # The stream changed layout or rate midway: drain the old converter, start a new one.
                    converted = resampler.resample(None)
                    resampler = av.AudioResampler(format="s16", layout="mono", rate=sample_rate)
                    converted += resampler.resample(decoded)
                for resampled in converted:
                    write(resampled)
        for resampled in resampler.resample(None):
            write(resampled)
        finish()
        if result.decode_errors and (total_samples == 0 or result.decode_errors > MAX_DECODE_ERROR_RATIO * packets):
            raise MediaRejected(f"the audio cannot be decoded ({result.decode_errors} of {packets} packets failed)",
                                code="CORRUPT_MEDIA")
        result.duration_seconds = round(total_samples / sample_rate, 3)
        return result
    except av.FFmpegError as exc:
        raise MediaRejected(f"the audio cannot be decoded: {_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()


# --- pictures --------------------------------------------------------------------------------------

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
        for frame in _decode(packet) or []:
            last = frame
            if frame.time is None or frame.time - float(first_pts * time_base) >= seconds - 1e-3:
                return frame
    return last


def _first_frame(container: Any, stream: Any, progress: Progress | None = None) -> Any | None:
    container.seek(0)
    for packet in container.demux(stream):
        if progress is not None:
            progress()
        frames = _decode(packet)
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
    container = _open(source)
    try:
        stream = _pick(container, "video")
        if stream is None:
            return []
        stream.thread_type = "AUTO"
        duration = _duration(container) or 0.0
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
        raise MediaRejected(f"the video cannot be decoded: {_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()


def poster_frame(source: Source, dest: str | os.PathLike, *, at_fraction: float = 0.1,
                 max_width: int = 1280, progress: Progress | None = None) -> Picture | None:
    """One JPEG at ~10 % of the duration (past intros and fades), or the first decodable frame."""
    container = _open(source)
    try:
        stream = _pick(container, "video")
        if stream is None:
            return None
        duration = _duration(container) or 0.0
        first = float((stream.start_time or 0) * stream.time_base)
        frame = _frame_at(container, stream, duration * at_fraction, progress) if duration > 0 else None
        if frame is None:
            frame = _first_frame(container, stream, progress)
        if frame is None:
            return None
        return _write_jpeg(frame, Path(dest), max_width, first)
    except av.FFmpegError as exc:
        raise MediaRejected(f"the video cannot be decoded: {_reason(exc)}", code="CORRUPT_MEDIA") from exc
    finally:
        container.close()


# --- the step both runtimes share --------------------------------------------------------------------

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

