"""Where each input's results go on disk: `OUT/<subfolders>/<file name with its extension>/`.

- The folder is named after the input's file name, extension included (`talk.mp3/`, `talk.png/`), under the
  subfolders the input had below the directory it was found in.
- A name too long for a file system (255 bytes a component) is shortened: its start, `~`, eight hex digits
  of the full name's SHA-256, its extension.
- No two inputs of a run share a folder, nor one folder inside another's: the later ones get `~<hash>` too.
- A folder is written next to its place and renamed into it: a re-run replaces an item's folder whole, never
  mixing the files of two runs.
- The saved `manifest.json` names the local input, and its links to result files are relative to the folder.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path, PurePath
from typing import Any, Iterable

# Bytes a folder name may take: NAME_MAX (255) less room for the `.<name>.partial-<12 hex>` of a folder being written.
MAX_NAME_BYTES = 200
HASH_CHARS = 8


def short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:HASH_CHARS]


def _truncate(text: str, max_bytes: int) -> str:
    """The longest start of text that fits max_bytes in UTF-8, cut on a character boundary."""
    return text.encode("utf-8", "surrogateescape")[:max_bytes].decode("utf-8", "ignore")


def with_hash(name: str, key: str, max_bytes: int = MAX_NAME_BYTES) -> str:
    """name shortened to fit max_bytes with `~<hash of key>` before its extension."""
    stem, dot, extension = name.rpartition(".")
    if not dot or not stem:
        stem, extension = name, ""
    extension = ("." + _truncate(extension, 16)) if extension else ""
    tag = f"~{short_hash(key)}"
    room = max_bytes - len(tag.encode()) - len(extension.encode("utf-8", "surrogateescape"))
    return _truncate(stem, room) + tag + extension


def safe_component(name: str) -> str:
    """A file name usable as a folder name: as it is when short enough, else shortened with a hash."""
    if name in ("", ".", ".."):
        return with_hash("input", name)
    if len(name.encode("utf-8", "surrogateescape")) <= MAX_NAME_BYTES:
        return name
    return with_hash(name, name)


def folder_for(relative: PurePath) -> PurePath:
    return PurePath(*(safe_component(part) for part in relative.parts)) if relative.parts else PurePath("input")


def _clashes(folder: PurePath, taken: set[PurePath]) -> bool:
    """The same folder as another item's, or one inside the other (replacing one would remove the other)."""
    return any(folder == other or folder in other.parents or other in folder.parents for other in taken)


def assign_folders(inputs: Iterable[tuple[str, PurePath]]) -> list[PurePath]:
    """One distinct folder per input, given (full input path, relative path) pairs, in order."""
    taken: set[PurePath] = set()
    folders = []
    for full, relative in inputs:
        folder = folder_for(relative)
        if _clashes(folder, taken):  # the same name: hash the file's own name
            folder = folder.parent / with_hash(folder.name, full)
        salt = 0
        while _clashes(folder, taken):  # still inside another item's folder (or a hash collision): hash the top
            salt += 1
            top, *rest = folder.parts
            folder = PurePath(with_hash(top, f"{full}\0{salt}"), *rest)
        taken.add(folder)
        folders.append(folder)
    return folders


def local_manifest(manifest: dict[str, Any], *, input_path: Path | None, results_uri: str) -> dict[str, Any]:
    """The manifest as saved in the item's folder: the local input as its source, relative links to the files.

    results_uri is `s3://bucket/results/<media id>/`: every link under it becomes a path inside the folder.
    """
    def relative(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(results_uri):
            return value[len(results_uri):]
        if isinstance(value, dict):
            return {key: relative(item) for key, item in value.items()}
        if isinstance(value, list):
            return [relative(item) for item in value]
        return value

    saved = relative(json.loads(json.dumps(manifest))) if results_uri else json.loads(json.dumps(manifest))
    if input_path is not None:
        saved.setdefault("source", {})["uri"] = str(input_path)
    return saved


class ItemFolder:
    """An item's results folder being written: files go to a hidden folder beside it, `commit` swaps it in."""

    def __init__(self, out: Path, folder: PurePath):
        self.target = out / folder
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.target.parent / f".{self.target.name}.partial-{uuid.uuid4().hex[:12]}"
        self.partial.mkdir()

    def write_json(self, name: str, document: Any) -> None:
        (self.partial / name).write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")

    def commit(self) -> Path:
        """Replace the folder with the one written: a reader sees the old files or the new ones, never a mix."""
        old = None
        if self.target.is_symlink() or self.target.exists():
            old = self.target.parent / f".{self.target.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(self.target, old)
        os.rename(self.partial, self.target)
        if old is not None:
            if old.is_dir() and not old.is_symlink():
                shutil.rmtree(old)
            else:
                old.unlink()
        return self.target

    def discard(self) -> None:
        shutil.rmtree(self.partial, ignore_errors=True)
