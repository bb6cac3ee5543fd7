"""Heavy engines take turns: one at a time, a waiting OCR call (synchronous, inside a Lambda's timeout) before a
waiting transcription (an asynchronous job), and the freed memory returned after each."""
from __future__ import annotations

import threading
import time

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
