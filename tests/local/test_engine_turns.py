"""Heavy engines take turns: one at a time, a waiting OCR call (synchronous, inside a Lambda's timeout) before a
waiting transcription (an asynchronous job), and the freed memory returned after each."""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from media_pipeline.local import engines


def test_one_heavy_engine_at_a_time_and_a_waiting_ocr_call_goes_before_waiting_transcriptions() -> None:
    order: list[str] = []
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []
    holder_started = threading.Event()

    def work(name: str, priority: int, seconds: float) -> None:
        with engines.exclusive(priority):
            running.append(name)
            if len(running) > 1:
                overlaps.append(tuple(running))
            order.append(name)
            holder_started.set()
            time.sleep(seconds)
            running.remove(name)

    holder = threading.Thread(target=work, args=("speech-1", 0, 0.5))
    holder.start()
    assert holder_started.wait(5)
    waiters = [threading.Thread(target=work, args=(f"speech-{n}", 0, 0.05)) for n in (2, 3)]
    for waiter in waiters:
        waiter.start()
    time.sleep(0.1)  # both transcriptions wait; then an OCR call arrives
    ocr = threading.Thread(target=work, args=("ocr", 1, 0.05))
    ocr.start()
    for thread in [holder, *waiters, ocr]:
        thread.join(10)
    assert overlaps == []
    assert order[0] == "speech-1" and order[1] == "ocr" and sorted(order[2:]) == ["speech-2", "speech-3"]


def test_freed_memory_is_returned_without_error_where_the_allocator_allows() -> None:
    engines.release_free_memory()
    engines.limit_allocator_arenas(2)
    with engines.exclusive():
        pass


def test_another_engines_turn_parks_a_parkable_model_and_its_own_turn_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDIA_PIPELINE_KEEP_MODELS", raising=False)
    loaded = {"model": True}
    calls: list[str] = []

    def unload() -> bool:
        calls.append("unload")
        was, loaded["model"] = loaded["model"], False
        return was

    monkeypatch.setitem(engines._parkable, "parked-engine", unload)
    with engines.exclusive(engine="parked-engine"):
        assert loaded["model"] and calls == []  # its own turn keeps its model
    with engines.exclusive(priority=1, engine="other-engine"):
        assert loaded["model"] is False  # unloaded before the other engine runs
    assert engines.park_others("other-engine") == []  # already parked: nothing was loaded
    loaded["model"] = True
    monkeypatch.setenv("MEDIA_PIPELINE_KEEP_MODELS", "1")
    with engines.exclusive(engine="other-engine"):
        assert loaded["model"] is True  # MEDIA_PIPELINE_KEEP_MODELS=1 keeps every model
    assert engines.park_others("other-engine") == []


def test_the_speech_model_is_checked_once_and_again_when_its_file_changes(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import os

    from media_pipeline.local.engines import speech

    files = {"model.bin": b"weights", "config.json": b"{}"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    spec = speech.SpeechModel(key="test", name="test", package="test-package",
                              sha256={n: hashlib.sha256(d).hexdigest() for n, d in files.items()}, english_only=True)
    hashed: list[str] = []
    sha256 = speech._sha256
    monkeypatch.setattr(speech, "_sha256", lambda path: hashed.append(path.name) or sha256(path))
    speech.verify_model(tmp_path, spec)
    speech.verify_model(tmp_path, spec)  # as when a parked model loads again
    assert sorted(hashed) == ["config.json", "model.bin"]
    (tmp_path / "model.bin").write_bytes(b"WEIGHTS")  # same size, other bytes, a later modification time
    os.utime(tmp_path / "model.bin", ns=(1, 2_000_000_000))
    with pytest.raises(speech.ModelIntegrityError, match="model.bin has SHA-256"):
        speech.verify_model(tmp_path, spec)
    assert sorted(hashed) == ["config.json", "model.bin", "model.bin"]


def test_the_warm_up_loads_no_further_model_once_the_pipeline_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    from media_pipeline.local import runtime
    from media_pipeline.local.engines import language, ocr, speech

    stop = threading.Event()
    loaded: list[str] = []
    monkeypatch.setattr(speech, "model", lambda: loaded.append("speech") or stop.set())  # the pipeline stops
    monkeypatch.setattr(ocr, "engine", lambda: loaded.append("ocr"))
    monkeypatch.setattr(language, "identifier", lambda: loaded.append("language"))
    runtime.warm_engines(stop)
    assert loaded == ["speech"]  # the model being loaded finishes; none is started after
    runtime.warm_engines()
    assert loaded == ["speech", "speech", "ocr", "language"]
