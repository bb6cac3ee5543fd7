"""What the command shows: a live board of items on stderr, the results table and excerpts on stdout."""
from __future__ import annotations

import json
import os
import time
from typing import IO, Any

from media_pipeline.cli.items import Item


class Board:
    """A live line per item on a terminal; one line per change otherwise (logs, CI)."""

    def __init__(self, items: list[Item], stream: IO[str]):
        self.items, self.stream = items, stream
        self.live = stream.isatty() and os.environ.get("TERM") != "dumb"
        self.drawn = 0

    def line(self, item: Item) -> str:
        elapsed = item.seconds if item.manifest else time.monotonic() - item.started
        return f"{item.label[:36]:36} {item.state[:48]:48} {elapsed:6.1f}s"

    def update(self, item: Item, state: str) -> None:
        if state == item.state:
            return
        item.state = state
        if self.live:
            self.draw()
        else:
            print(self.line(item), file=self.stream, flush=True)

    def draw(self) -> None:
        if not self.live:
            return
        out = f"\x1b[{self.drawn}F" if self.drawn else ""
        out += "".join(f"\x1b[2K{self.line(item)}\n" for item in self.items)
        self.stream.write(out)
        self.stream.flush()
        self.drawn = len(self.items)


def reason_or_title(manifest: dict[str, Any]) -> str:
    if manifest.get("status") == "FAILED":
        error = manifest.get("error") or {}
        return f"{error.get('code', '')}: {error.get('message', '')}"
    enrichment = manifest.get("enrichment") or {}
    if enrichment.get("title"):
        return str(enrichment["title"])
    warnings = manifest.get("warnings") or []
    return ", ".join(w["code"] for w in warnings) if warnings else ""


def results_table(items: list[Item]) -> str:
    rows = [("file", "media type", "status", "reason / title", "seconds")]
    for item in items:
        manifest = item.manifest or {}
        rows.append((item.label, manifest.get("media_type", "-"), manifest.get("status", item.state),
                     reason_or_title(manifest) if manifest else "no manifest", f"{item.seconds:.1f}"))
    widths = [min(max(len(str(row[i])) for row in rows), cap) for i, cap in enumerate((36, 10, 9, 70, 8))]
    lines = []
    for index, row in enumerate(rows):
        cells = [str(cell)[:width].ljust(width) for cell, width in zip(row, widths)]
        cells[-1] = str(row[-1]).rjust(widths[-1])
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def excerpts(items: list[Item], width: int = 400) -> str:
    """What came out of each item: the start of its transcript or text, and its summary."""
    blocks = []
    for item in items:
        manifest = item.manifest or {}
        if manifest.get("status") != "SUCCEEDED":
            continue
        text = (manifest.get("transcript") or {}).get("text") or (manifest.get("text") or {}).get("content") or ""
        text = " ".join(text.split())
        lines = [f"== {item.label} ({manifest.get('media_type')})"]
        label = "transcript" if "transcript" in manifest else "text"
        lines.append(f"{label}: {text[:width]}{'…' if len(text) > width else ''}" if text else f"{label}: (empty)")
        enrichment = manifest.get("enrichment") or {}
        if enrichment.get("summary"):
            lines.append(f"summary ({enrichment.get('model', '')}): {enrichment['summary']}")
            lines.append(f"keywords: {', '.join(enrichment.get('keywords') or [])}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def manifest_for_output(item: Item) -> dict[str, Any]:
    manifest = json.loads(json.dumps(item.manifest))
    manifest.setdefault("source", {})["uri"] = str(item.path)
    return manifest
