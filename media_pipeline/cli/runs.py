"""Running items through the pipeline, offline (the local mode) or on a deployed stack, until each has a manifest;
then each item's results folder written whole (media_pipeline/cli/layout.py)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from media_pipeline.cli.inputs import read_error
from media_pipeline.cli.items import Item
from media_pipeline.cli.layout import ItemFolder, local_manifest
from media_pipeline.cli.progress import Board
from media_pipeline.cli.stack import Stack
from media_pipeline.manifest import MANIFEST_NAME
from media_pipeline.pipeline_results import FINAL_STATUSES

TIMED_OUT = "TIMED_OUT"


def state_of(progress: Any) -> str | None:
    if progress.kind == "uploaded":
        return "uploaded"
    if progress.kind == "entered":
        return progress.state
    return None


def upload_each(items: list[Item], board: Board, upload: Callable[[Item], str],
                manifest_of: Callable[[str], dict[str, Any] | None]) -> None:
    """Upload every item not yet finished; one that cannot be read now (it vanished, it is locked) is FAILED."""
    for item in items:
        if item.finished:
            continue
        item.started = time.monotonic()
        board.update(item, "uploading")
        try:
            item.media_id = upload(item)
        except OSError as exc:
            item.fail(*read_error(item.path, exc))
            board.update(item, "FAILED")
            continue
        board.update(item, "uploaded")
        manifest = manifest_of(item.media_id)  # a rejected upload has its manifest already
        if manifest is not None:
            item.finish(manifest)
            board.update(item, manifest["status"])


def wait_for_manifests(items: list[Item], board: Board, *, timeout: float, poll_seconds: float,
                       manifest_of: Callable[[str], dict[str, Any] | None], progress: Callable[[Item], None],
                       changes: Any = None) -> None:
    """Read each item's progress and manifest until every item has its manifest or the timeout passes (then the
    item is FAILED: TIMED_OUT). With `changes` (the offline pipeline: `change_sequence()` and
    `changes(after, timeout)`), an item is read again only when the emulator wrote its job record or its
    execution's history; otherwise every pending item is read every poll_seconds."""
    deadline = time.monotonic() + timeout
    pending = [item for item in items if not item.finished]
    mark = changes.change_sequence() if changes is not None else 0
    changed: set[str] | None = None  # None: read every pending item
    while pending and time.monotonic() < deadline:
        round_started = time.monotonic()
        for item in list(pending):
            if changed is not None and item.media_id not in changed:
                continue
            progress(item)
            manifest = manifest_of(item.media_id)
            if manifest is not None:
                item.finish(manifest)
                board.update(item, manifest["status"])
                pending.remove(item)
        if changes is None:
            time.sleep(poll_seconds)
            continue
        mark, changed = changes.changes(mark, poll_seconds)
        # a burst of writes is read in one round rather than one round per write
        time.sleep(max(0.0, min(poll_seconds, 0.1) - (time.monotonic() - round_started)))
    for item in pending:
        item.fail(TIMED_OUT, f"no manifest after {timeout:.0f} s: the command stopped waiting (--timeout)")
        board.update(item, "TIMED OUT")


def save_item(item: Item, out: Path, *, results_uri: str | None, download: Callable[[Path], Any] | None) -> None:
    """The item's folder, written beside its place and swapped in: its result files and its local manifest."""
    if item.manifest is None:
        return
    folder = ItemFolder(out, item.folder)
    try:
        if download is not None:
            download(folder.partial)
        saved = local_manifest(item.manifest, input_path=item.path, results_uri=results_uri or "")
        folder.write_json(MANIFEST_NAME, saved)
        folder.commit()
    except BaseException:
        folder.discard()
        raise
    item.manifest = saved


def process_offline(items: list[Item], out: Path, board: Board, *, timeout: float, verbose: bool,
                    environment: dict[str, str] | None = None) -> None:
    from media_pipeline.local import account
    from media_pipeline.local.runtime import LocalPipeline

    runnable = [item for item in items if not item.finished]
    if runnable:
        board.phase("Starting the offline pipeline: the AWS emulator, then the emulated account "
                    "(bucket, queues, state machine, functions; a few seconds)")
        pipeline = LocalPipeline(mode="server", warm_engines=True, log_level="INFO" if verbose else "WARNING",
                                 environment=environment, on_phase=board.phase)
        with pipeline:
            board.phase(f"Uploading {len(runnable)} file(s)")
            upload_each(items, board, lambda item: pipeline.upload(item.path, name=item.path.name).media_id,
                        pipeline.manifest)
            board.phase("Running (speech and OCR models load with the first items)")

            def progress(item: Item) -> None:
                item.seen_events = pipeline.report_progress(
                    item.media_id, item.seen_events, lambda p: (s := state_of(p)) and board.update(item, s))

            wait_for_manifests(items, board, timeout=timeout, poll_seconds=0.25, manifest_of=pipeline.manifest,
                               progress=progress, changes=pipeline)
            board.phase("Saving results")
            for item in items:
                results_uri = f"s3://{pipeline.bucket}/{account.RESULTS_PREFIX}{item.media_id}/"
                fetch = (lambda target, media_id=item.media_id: pipeline.download_results(media_id, target)) \
                    if item.media_id and item.state != "TIMED OUT" else None
                save_item(item, out, results_uri=results_uri, download=fetch)
    else:
        for item in items:
            save_item(item, out, results_uri=None, download=None)


def process_on_stack(stack: Stack, items: list[Item], out: Path, board: Board, *, timeout: float) -> None:
    def upload(item: Item) -> str:
        size, sent = max(1, item.path.stat().st_size), [0]

        def on_bytes(count: int) -> None:
            sent[0] += count
            board.update(item, f"uploading {100 * sent[0] // size}%")

        return stack.upload(item.path, on_bytes)

    board.phase(f"Uploading to stack {stack.name} (bucket {stack.bucket})")
    upload_each(items, board, upload, stack.manifest)

    def progress(item: Item) -> None:
        job = stack.job(item.media_id)
        if job:
            status = job.get("status", "RUNNING")
            board.update(item, status.lower() if status not in FINAL_STATUSES else "finishing")

    board.phase(f"Running on stack {stack.name}")
    wait_for_manifests(items, board, timeout=timeout, poll_seconds=2.0, manifest_of=stack.manifest, progress=progress)
    board.phase("Downloading results")
    for item in items:
        fetch = (lambda target, media_id=item.media_id: stack.download(media_id, target)) \
            if item.media_id and item.state != "TIMED OUT" else None
        save_item(item, out, results_uri=f"s3://{stack.bucket}/{stack.results_prefix}{item.media_id}/", download=fetch)
