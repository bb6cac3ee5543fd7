"""Progress on stderr: what the start-up is doing, an overall bar, each item's current step.

On a terminal the board redraws in place (a status line, a bar with done/total, elapsed time and an estimate
of what is left, then a line per item, as many as the terminal holds). Anywhere else (a pipe, a log, CI,
TERM=dumb) it prints one plain line per change, so logs stay readable.
"""
from __future__ import annotations

import os
import io
import shutil
import sys
import threading
import time
from typing import IO

from media_pipeline.cli.items import Item

BAR_WIDTH = 24


def clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


class _Held(io.StringIO):
    """stderr while the live board is drawn (kept, written out after it)."""

    def isatty(self) -> bool:
        return False


class Board:
    """Live on a terminal, one line per change otherwise. Safe to call from several threads."""

    def __init__(self, items: list[Item], stream: IO[str], *, live: bool | None = None):
        self.items, self.stream = items, stream
        self.live = (stream.isatty() and os.environ.get("TERM") != "dumb") if live is None else live
        self.started = time.monotonic()
        self.status = ""
        self.status_since = self.started
        self.drawn = 0
        self._lock = threading.RLock()
        self._ticker: threading.Thread | None = None
        self._ticking = threading.Event()
        self._saved_streams: tuple[IO[str], IO[str]] | None = None
        self._held: _Held | None = None

    # ---- what happened ---------------------------------------------------------------------------------------

    def phase(self, text: str) -> None:
        """A start-up step (or the run's current activity): shown above the bar, printed as a line off a terminal."""
        with self._lock:
            self.status, self.status_since = text, time.monotonic()
            if self.live:
                self.draw()
            else:
                print(f"media-pipeline: {text}", file=self.stream, flush=True)

    def update(self, item: Item, state: str) -> None:
        with self._lock:
            if state == item.state:
                return
            item.state = state
            if self.live:
                self.draw()
            else:
                print(self.plain_line(item), file=self.stream, flush=True)

    # ---- what is shown ---------------------------------------------------------------------------------------

    def done(self) -> int:
        return sum(1 for item in self.items if item.finished)

    def overall(self) -> str:
        total, done = len(self.items), self.done()
        elapsed = time.monotonic() - self.started
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        line = f"[{bar}] {done}/{total} done  {clock(elapsed)} elapsed"
        ran = sum(1 for item in self.items if item.finished and item.media_id)  # inputs refused up front took no time
        if ran and done < total:
            running_for = time.monotonic() - min(item.started for item in self.items if item.media_id)
            line += f"  ~{clock(running_for / ran * (total - done))} left"
        elif done == total and total:
            line += "  finished"
        return line

    def item_line(self, item: Item, width: int) -> str:
        state = item.state if not item.manifest else item.manifest.get("status", item.state)
        label_width = max(12, min(48, width - 40))
        label = item.label if len(item.label) <= label_width else "…" + item.label[-(label_width - 1):]
        if item.finished:
            elapsed = f"{item.seconds:6.1f}s"
        else:  # an item not uploaded yet has no time of its own
            elapsed = f"{time.monotonic() - item.started:6.1f}s" if item.media_id or state != "waiting" else ""
        return f"{label:{label_width}} {state[:28]:28} {elapsed}"[:width]

    def plain_line(self, item: Item) -> str:
        return f"[{self.done()}/{len(self.items)}] {clock(time.monotonic() - self.started)} {item.label}: {item.state}"

    def draw(self) -> None:
        """Redraw in place: status, bar, items (unfinished first, as many as fit the terminal)."""
        if not self.live:
            return
        with self._lock:
            columns, rows = shutil.get_terminal_size((100, 24))
            lines = []
            if self.status:
                lines.append(f"{self.status} ({time.monotonic() - self.status_since:.1f} s)")
            lines.append(self.overall())
            room = max(1, rows - len(lines) - 2)
            ordered = [i for i in self.items if not i.finished] + [i for i in self.items if i.finished]
            shown = ordered[:room] if len(ordered) > room else ordered
            lines.extend(self.item_line(item, columns - 1) for item in shown)
            if len(ordered) > len(shown):
                lines.append(f"… and {len(ordered) - len(shown)} more")
            out = f"\x1b[{self.drawn}F" if self.drawn else ""
            out += "".join(f"\x1b[2K{line[:columns - 1]}\n" for line in lines)
            if len(lines) < self.drawn:  # clear what a taller board left below
                out += "".join("\x1b[2K\n" for _ in range(self.drawn - len(lines)))
                out += f"\x1b[{self.drawn - len(lines)}F"
            self.stream.write(out)
            self.stream.flush()
            self.drawn = len(lines)

    # ---- a clock that ticks while nothing else happens (start-up, long steps) --------------------------------

    def __enter__(self) -> "Board":
        if self.live:
            # Anything else written to stderr meanwhile (a library's warning) would break the redraw: it is held
            # and written after the board.
            self._held = _Held()
            self._saved_streams = (sys.stdout, sys.stderr)
            sys.stderr = self._held
            if self._saved_streams[0] is self._saved_streams[1] or self._saved_streams[0] is self.stream:
                sys.stdout = self._held
            self._ticking.set()
            self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
            self._ticker.start()
        else:  # inputs refused up front: said at once
            for item in self.items:
                if item.finished:
                    print(self.plain_line(item), file=self.stream, flush=True)
        self.draw()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ticking.clear()
        if self._ticker is not None:
            self._ticker.join(timeout=2)
        self.status = ""
        self.draw()
        if self._saved_streams is not None:
            sys.stdout, sys.stderr = self._saved_streams
            self._saved_streams = None
            held = self._held.getvalue()
            if held:
                self.stream.write(held)
                self.stream.flush()

    def _tick(self) -> None:
        while self._ticking.is_set():
            self.draw()
            time.sleep(0.5)
