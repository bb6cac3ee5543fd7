"""Real media made with PyAV for tests and benchmarks: a moving picture and a sine tone.

The picture changes every frame (a bright bar sweeps across a gradient) so thumbnails taken at
different times differ; the tone makes the extracted audio measurable. Cheap codecs and tiny frames
keep generation fast enough for hours of media.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

_CONTAINERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi", ".ts": "mpegts"}


def _tone_block(sample_rate: int, tone_hz: float, samples: int, start: int) -> np.ndarray:
    t = (np.arange(samples) + start) / sample_rate
    return (0.3 * np.sin(2 * np.pi * tone_hz * t)).astype(np.float32)


def make_video(path: str | Path, seconds: float, *, with_audio: bool = True, width: int = 160, height: int = 120,
               fps: int = 10, tone_hz: float = 440, video_codec: str = "h264", audio_codec: str = "aac",
               sample_rate: int = 16000, audio_bit_rate: int | None = None, gop: int | None = None) -> Path:
    """Write a video of `seconds` with a moving bar and, optionally, a mono sine tone."""
    path = Path(path)
    container = av.open(str(path), "w", format=_CONTAINERS.get(path.suffix.lower()))
    video = container.add_stream(video_codec, rate=fps)
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    if gop:
        video.codec_context.gop_size = gop
    if video_codec in ("h264", "libx264"):
        video.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency"}
    audio = None
    if with_audio:
        audio = container.add_stream(audio_codec, rate=sample_rate)
        audio.layout = "mono"
        if audio_bit_rate:
            audio.bit_rate = audio_bit_rate
    frames = int(round(seconds * fps))
    ramp = np.tile(np.linspace(0, 200, width, dtype=np.uint8), (height, 1))
    picture = np.stack([ramp, ramp[::-1], np.full_like(ramp, 60)], axis=-1)
    bar = max(2, width // 16)
    audio_per_frame = Fraction(sample_rate, fps)
    audio_written = 0
    for index in range(frames):
        image = picture.copy()
        x = (index * bar) % max(1, width - bar)
        image[:, x:x + bar] = 255
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        frame.pts = index
        for packet in video.encode(frame):
            container.mux(packet)
        if audio is not None:
            target = int((index + 1) * audio_per_frame)
            count = target - audio_written
            samples = _tone_block(sample_rate, tone_hz, count, audio_written).reshape(1, -1)
            block = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            block.sample_rate, block.pts = sample_rate, audio_written
            audio_written = target
            for packet in audio.encode(block):
                container.mux(packet)
    for stream in (video, audio):
        if stream is not None:
            for packet in stream.encode(None):
                container.mux(packet)
    container.close()
    return path


def make_wav(path: str | Path, seconds: float, *, sample_rate: int = 16000, tone_hz: float = 440,
             channels: int = 1) -> Path:
    """Write a 16-bit PCM WAV holding a sine tone."""
    path = Path(path)
    layout = "mono" if channels == 1 else "stereo"
    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=sample_rate)
        stream.layout = layout
        total, written, block = int(seconds * sample_rate), 0, sample_rate // 5
        while written < total:
            count = min(block, total - written)
            tone = _tone_block(sample_rate, tone_hz, count, written)
            samples = (np.repeat(tone.reshape(1, -1), channels, axis=0) * 32767).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(samples.T.reshape(1, -1).copy(), format="s16", layout=layout)
            frame.sample_rate, frame.pts = sample_rate, written
            written += count
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def wav_bytes(seconds: float, *, sample_rate: int = 16000, tone_hz: float = 0.0) -> bytes:
    """A small mono 16-bit WAV in memory (silence by default), for tests that only need valid audio bytes."""
    import io
    import wave

    buffer = io.BytesIO()
    samples = (_tone_block(sample_rate, tone_hz, int(seconds * sample_rate), 0) * 8000).astype("<i2") if tone_hz else \
        np.zeros(int(seconds * sample_rate), dtype="<i2")
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return buffer.getvalue()
