"""The inputs of a run, each checked before anything starts: a file the pipeline can read, or a reason it cannot.

A directory stands for the files under it (recursively, sorted, hidden entries skipped); symbolic links to
directories are followed once, so a link back to a parent is reported, not walked forever. A path that does not
exist, cannot be opened or read, or is not a regular file (a FIFO, a device, a socket) is an input with a
reason: the run goes on without it, and it ends as a FAILED item (docs/reason-codes.md, "Inputs").
"""
from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Iterable

# Reason codes of inputs the pipeline never saw (docs/reason-codes.md lists them).
INPUT_NOT_FOUND = "INPUT_NOT_FOUND"
INPUT_UNREADABLE = "INPUT_UNREADABLE"
INPUT_NOT_A_FILE = "INPUT_NOT_A_FILE"
INPUT_DIRECTORY_LOOP = "INPUT_DIRECTORY_LOOP"


@dataclass(frozen=True)
class Input:
    """One file to process: where it is, where its results go (relative), and why it cannot run, if so."""

    path: Path
    relative: PurePath  # the file's path under the directory it was found in (its name for a file argument)
    reason: tuple[str, str] | None = None  # (code, message) for an input that cannot run

    @property
    def label(self) -> str:
        return str(self.path)


def read_error(path: Path, exc: OSError) -> tuple[str, str]:
    """The reason an input cannot be read, from the error opening or reading it."""
    if isinstance(exc, FileNotFoundError):
        return INPUT_NOT_FOUND, f"{path}: no such file (it was removed, or a symbolic link points nowhere)"
    if exc.errno == errno.ELOOP:
        return INPUT_DIRECTORY_LOOP, f"{path}: too many levels of symbolic links"
    if isinstance(exc, PermissionError):
        return INPUT_UNREADABLE, f"{path}: permission denied"
    if isinstance(exc, IsADirectoryError):
        return INPUT_NOT_A_FILE, f"{path}: a directory"
    return INPUT_UNREADABLE, f"{path}: {exc.strerror or exc}"


def check_file(path: Path) -> tuple[str, str] | None:
    """None when the file is a regular file that opens and reads; else its reason. Never blocks on a FIFO."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return read_error(path, exc)
    if not stat.S_ISREG(info.st_mode):
        kind = {stat.S_IFIFO: "a named pipe (FIFO)", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
                stat.S_IFSOCK: "a socket", stat.S_IFDIR: "a directory"}.get(stat.S_IFMT(info.st_mode), "not a regular file")
        return INPUT_NOT_A_FILE, f"{path}: {kind}, not a regular file"
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        return read_error(path, exc)
    return None


def _walk(directory: Path, relative: PurePath, seen: set[tuple[int, int]]) -> Iterable[Input]:
    try:
        entries = sorted(os.scandir(directory), key=lambda entry: entry.name)
    except OSError as exc:
        yield Input(directory, relative, read_error(directory, exc))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path, rel = Path(entry.path), relative / entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError as exc:
            yield Input(path, rel, read_error(path, exc))
            continue
        if not is_dir:
            yield Input(path, rel, check_file(path))
            continue
        try:
            info = os.stat(path)
        except OSError as exc:
            yield Input(path, rel, read_error(path, exc))
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            yield Input(path, rel, (INPUT_DIRECTORY_LOOP,
                                    f"{path}: leads back to {os.path.realpath(path)}, a directory already walked"))
            continue
        seen.add(key)
        yield from _walk(path, rel, seen)


def collect_inputs(arguments: Iterable[str]) -> list[Input]:
    """Every input named on the command line, in order, each once (a file named twice runs once)."""
    found: list[Input] = []
    for raw in arguments:
        path = Path(raw)
        if path.is_dir():
            info = os.stat(path)
            found.extend(_walk(path, PurePath(), {(info.st_dev, info.st_ino)}))
        else:
            found.append(Input(path, PurePath(path.name or raw), check_file(path)))
    unique: dict[str, Input] = {}
    for item in found:
        unique.setdefault(os.path.realpath(item.path) if item.reason is None else str(item.path), item)
    return list(unique.values())
