"""The inputs of a run: one Item per file, and the results folder each one gets."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable


@dataclass
class Item:
    """One input on its way through the pipeline."""

    path: Path
    label: str
    media_id: str = ""
    state: str = "waiting"
    manifest: dict[str, Any] | None = None
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    seen_events: int = 0
    folder: str = ""


def expand_inputs(paths: Iterable[str]) -> list[Path]:
    """Files as given; a directory stands for the files in it (recursively, sorted, hidden files skipped)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not any(
                part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(raw)
    return found


def folder_names(items: list[Item]) -> None:
    """DIR/<file stem>/, or DIR/<stem>-<media id prefix>/ when two inputs share a stem."""
    stems: dict[str, int] = {}
    for item in items:
        stems[item.path.stem] = stems.get(item.path.stem, 0) + 1
    for item in items:
        stem = item.path.stem or item.media_id
        item.folder = stem if stems[item.path.stem] == 1 else f"{stem}-{item.media_id[:8]}"
