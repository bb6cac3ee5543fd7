"""Running items through the pipeline: offline (the local mode) or on a deployed stack, until each has a manifest."""
from __future__ import annotations

import time
from pathlib import Path
from typing import IO, Any, Callable

from media_pipeline.cli.items import Item, folder_names
from media_pipeline.cli.output import Board
from media_pipeline.cli.stack import Stack
from media_pipeline.pipeline_results import FINAL_STATUSES


def state_of(progress: Any) -> str | None:
    if progress.kind == "uploaded":
        return "uploaded"
    if progress.kind == "entered":
        return progress.state
    return None


def wait_for_manifests(items: list[Item], board: Board, *, timeout: float, poll_seconds: float,
                       manifest_of: Callable[[str], dict[str, Any] | None], progress: Callable[[Item], None]) -> None:
    """Poll until every item has its manifest or the timeout passes; name each item's results folder."""
    deadline = time.monotonic() + timeout
    pending = [item for item in items if item.manifest is None]
    while pending and time.monotonic() < deadline:
        for item in list(pending):
            progress(item)
            manifest = manifest_of(item.media_id)
            if manifest is not None:
                item.manifest, item.seconds = manifest, time.monotonic() - item.started
                board.update(item, manifest["status"])
                pending.remove(item)
        board.draw()
        time.sleep(poll_seconds)
    for item in pending:
        item.seconds = time.monotonic() - item.started
        board.update(item, "TIMED OUT")
    folder_names(items)


def process_offline(paths: list[Path], out: Path, *, timeout: float, verbose: bool,
                    board_stream: IO[str], environment: dict[str, str] | None = None) -> list[Item]:
    from media_pipeline.local.runtime import LocalPipeline

    items = [Item(path=p, label=str(p)) for p in paths]
    board = Board(items, board_stream)
    board.draw()
    with LocalPipeline(mode="server", warm_engines=True, log_level="INFO" if verbose else "WARNING",
                       environment=environment) as pipeline:
        for item in items:
            item.started = time.monotonic()
            board.update(item, "uploading")
            upload = pipeline.upload(item.path, name=item.path.name)
            item.media_id = upload.media_id
            board.update(item, "uploaded")
            manifest = pipeline.manifest(item.media_id)  # a rejected upload has its manifest already
            if manifest is not None:
                item.manifest, item.seconds = manifest, time.monotonic() - item.started
                board.update(item, manifest["status"])

        def progress(item: Item) -> None:
            item.seen_events = pipeline.report_progress(
                item.media_id, item.seen_events, lambda p: (s := state_of(p)) and board.update(item, s))

        wait_for_manifests(items, board, timeout=timeout, poll_seconds=0.25, manifest_of=pipeline.manifest,
                           progress=progress)
        for item in items:
            if item.media_id:
                pipeline.download_results(item.media_id, out / item.folder)
    return items


def process_on_stack(stack: Stack, paths: list[Path], out: Path, *, timeout: float,
                     board_stream: IO[str]) -> list[Item]:
    items = [Item(path=p, label=str(p)) for p in paths]
    board = Board(items, board_stream)
    board.draw()
    for item in items:
        size, sent = max(1, item.path.stat().st_size), [0]

        def on_bytes(count: int, item: Item = item, size: int = size, sent: list[int] = sent) -> None:
            sent[0] += count
            board.update(item, f"uploading {100 * sent[0] // size}%")

        item.started = time.monotonic()
        item.media_id = stack.upload(item.path, on_bytes)
        board.update(item, "uploaded")

    def progress(item: Item) -> None:
        job = stack.job(item.media_id)
        if job:
            board.update(item, job.get("status", "RUNNING").lower() if job.get("status") not in FINAL_STATUSES else "finishing")

    wait_for_manifests(items, board, timeout=timeout, poll_seconds=2.0, manifest_of=stack.manifest, progress=progress)
    for item in items:
        if item.manifest:
            stack.download(item.media_id, out / item.folder)
    return items
