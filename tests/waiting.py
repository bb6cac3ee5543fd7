"""Waiting in tests for what the emulator does in the background (threads, pollers, executions)."""
from __future__ import annotations

import time
from typing import Any, Callable


def until(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "the condition", *,
          interval: float = 0.1) -> Any:
    """predicate()'s first truthy value, polled every `interval` seconds; AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
