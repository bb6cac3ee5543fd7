"""The items of a run: one per input, from its check to its manifest and its results folder."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from media_pipeline.cli.inputs import Input
from media_pipeline.cli.layout import assign_folders
from media_pipeline.manifest import SCHEMA_VERSION

FINISHED = ("SUCCEEDED", "FAILED", "TIMED OUT")


@dataclass
class Item:
    """One input on its way through the pipeline."""

    path: Path
    label: str
    folder: PurePath = PurePath()
    media_id: str = ""
    state: str = "waiting"
    manifest: dict[str, Any] | None = None
    started: float = field(default_factory=time.monotonic)  # reset when its upload starts
    seconds: float = 0.0
    seen_events: int = 0

    @property
    def finished(self) -> bool:
        return self.manifest is not None or self.state in FINISHED

    def finish(self, manifest: dict[str, Any]) -> None:
        self.manifest, self.seconds = manifest, time.monotonic() - self.started

    def fail(self, code: str, message: str) -> None:
        """The item ends here, before or outside the pipeline: a FAILED manifest with the reason."""
        self.finish(input_failure(self.path, code, message))


def input_failure(path: Path, code: str, message: str) -> dict[str, Any]:
    """The FAILED manifest of an input the pipeline never saw (its media id is derived from the local path)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "media_id": hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:32],
        "source": {"uri": str(path)},
        "status": "FAILED",
        "media_type": "unknown",
        "warnings": [],
        "artifacts": {},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "error": {"code": code, "message": message},
    }


def items_for(inputs: list[Input]) -> list[Item]:
    """An Item per input with its own results folder; an input that cannot run is FAILED already."""
    folders = assign_folders((str(i.path), i.relative) for i in inputs)
    items = []
    for checked, folder in zip(inputs, folders):
        item = Item(path=checked.path, label=checked.label, folder=folder)
        if checked.reason is not None:
            item.fail(*checked.reason)
            item.state = "FAILED"
        items.append(item)
    return items
