"""The `media-pipeline` command: run media through the pipeline offline, or through a deployed stack.

    media-pipeline process PATH... [--out DIR] [--json] [--stack NAME]
    media-pipeline status MEDIA_ID --stack NAME
    media-pipeline results MEDIA_ID --stack NAME [--out DIR]
    media-pipeline demo [--out DIR]

Without --stack, `process` starts the offline local mode (media_pipeline.local.runtime): the pipeline's own
handlers and state machine on an embedded emulator with offline engines. Progress goes to stderr; stdout holds
the results table, or with --json exactly one JSON array of manifests and nothing else. The exit status is 0
when every input got a manifest, whatever its status (a FAILED item carries its reason); 1 when the pipeline
could not produce one; 2 for a usage error.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from media_pipeline.pipeline_results import FINAL_STATUSES, PipelineResults

DEFAULT_OUT = "media-pipeline-results"
DEMO_OUT = "demo-results"
DEFAULT_TIMEOUT = 900.0

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


# ---- shared ---------------------------------------------------------------------------------------------------

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


# ---- offline ----------------------------------------------------------------------------------------------------

def process_offline(paths: list[Path], out: Path, *, timeout: float, verbose: bool,
                    board_stream: IO[str]) -> list[Item]:
    from media_pipeline.local.runtime import LocalPipeline

    items = [Item(path=p, label=str(p)) for p in paths]
    board = Board(items, board_stream)
    board.draw()
    with LocalPipeline(mode="server", warm_engines=True, log_level="INFO" if verbose else "WARNING") as pipeline:
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


# ---- a deployed stack ----------------------------------------------------------------------------------------------

@dataclass
class Stack:
    name: str
    bucket: str
    table: str
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    state_machine_arn: str | None = None

    @classmethod
    def describe(cls, name: str) -> "Stack":
        import boto3

        stacks = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

        def find(*words: str, default: str | None = None) -> str | None:
            for key, value in outputs.items():
                if all(word in key.lower() for word in words):
                    return value
            return default

        bucket, table = find("bucket"), find("table")
        if not bucket or not table:
            raise LookupError(f"stack {name} has no bucket and table outputs (outputs: {sorted(outputs)})")
        return cls(name=name, bucket=bucket, table=table, upload_prefix=find("upload", "prefix", default="uploads/"),
                   results_prefix=find("results", "prefix", default="results/"),
                   state_machine_arn=find("statemachine") or find("state", "machine"))

    @property
    def results(self) -> PipelineResults:
        import boto3

        return PipelineResults(bucket=self.bucket, table=self.table, s3=boto3.client("s3"),
                               dynamodb=boto3.client("dynamodb"), results_prefix=self.results_prefix)

    def job(self, media_id: str) -> dict[str, str] | None:
        return self.results.job(media_id)

    def manifest(self, media_id: str) -> dict[str, Any] | None:
        return self.results.manifest(media_id)

    def upload(self, path: Path, on_bytes: Callable[[int], None]) -> str:
        import boto3

        from media_pipeline.ids import media_id_for

        s3 = boto3.client("s3")
        key = f"{self.upload_prefix}{path.name}"
        s3.upload_file(str(path), self.bucket, key, Callback=on_bytes)
        head = s3.head_object(Bucket=self.bucket, Key=key)
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        return media_id_for(self.bucket, key, version or head["ETag"].strip('"'))

    def download(self, media_id: str, directory: Path) -> list[Path]:
        return self.results.download(media_id, directory)


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


# ---- commands -------------------------------------------------------------------------------------------------------

def command_process(args: argparse.Namespace, stdout: IO[str]) -> int:
    try:
        paths = expand_inputs(args.paths)
    except FileNotFoundError as exc:
        print(f"media-pipeline: no such file or directory: {exc}", file=sys.stderr)
        return 2
    if not paths:
        print("media-pipeline: nothing to process", file=sys.stderr)
        return 2
    out = Path(args.out)
    started = time.monotonic()
    try:
        if args.stack:
            items = process_on_stack(Stack.describe(args.stack), paths, out, timeout=args.timeout, board_stream=sys.stderr)
        else:
            items = process_offline(paths, out, timeout=args.timeout, verbose=args.verbose, board_stream=sys.stderr)
    except Exception as exc:  # noqa: BLE001 - the pipeline itself could not run: say why, exit 1
        print(f"media-pipeline: the pipeline could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    table = results_table(items)
    done = [item for item in items if item.manifest is not None]
    summary = (f"{len(done)} of {len(items)} items have a manifest in {time.monotonic() - started:.1f} s; "
               f"results in {out}/")
    if args.json:
        print(table, file=sys.stderr)
        print(summary, file=sys.stderr)
        stdout.write(json.dumps([manifest_for_output(item) for item in done], ensure_ascii=False, indent=2) + "\n")
    else:
        found = excerpts(items)
        stdout.write((found + "\n\n" if found else "") + table + "\n" + summary + "\n")
    stdout.flush()
    return 0 if len(done) == len(items) else 1


def command_status(args: argparse.Namespace, stdout: IO[str]) -> int:
    stack = Stack.describe(args.stack)
    job = stack.job(args.media_id)
    if job is None:
        print(f"media-pipeline: no job {args.media_id} in stack {args.stack}", file=sys.stderr)
        return 1
    manifest = stack.manifest(args.media_id)
    report = {"media_id": args.media_id, "job": job}
    if manifest is not None:
        report["manifest"] = manifest
    if args.json:
        stdout.write(json.dumps(report, ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.write(f"{args.media_id}  {job.get('status', '?')}  {job.get('media_type', '')}  "
                     f"s3://{job.get('bucket', '')}/{job.get('key', '')}\n")
        if job.get("error_code"):
            stdout.write(f"error: {job['error_code']}\n")
        if manifest is not None:
            stdout.write(f"{reason_or_title(manifest)}\n")
    return 0


def command_results(args: argparse.Namespace, stdout: IO[str]) -> int:
    stack = Stack.describe(args.stack)
    written = stack.download(args.media_id, Path(args.out) / args.media_id)
    if not written:
        print(f"media-pipeline: no results for {args.media_id} in stack {args.stack}", file=sys.stderr)
        return 1
    for path in written:
        stdout.write(f"{path}\n")
    return 0


def command_demo(args: argparse.Namespace, stdout: IO[str]) -> int:
    from media_pipeline.local.runtime import PROJECT_ROOT

    samples = PROJECT_ROOT / "samples"
    paths = [os.path.relpath(p) if p.is_relative_to(Path.cwd()) else str(p)  # short labels in the table
             for p in sorted(samples.iterdir()) if p.is_file() and p.suffix not in (".py", ".md", ".txt")]
    args.paths, args.stack = paths, None
    print(f"Processing the {len(paths)} samples in {samples} offline; results in {args.out}/", file=sys.stderr)
    return command_process(args, stdout)


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="media-pipeline", description=__doc__.split("\n\n")[0])
    commands = main_parser.add_subparsers(dest="command", required=True)

    process = commands.add_parser("process", help="run files through the pipeline and download the results")
    process.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories of files")
    process.add_argument("--out", default=DEFAULT_OUT, help=f"results folder (default {DEFAULT_OUT}/)")
    process.add_argument("--json", action="store_true", help="print one JSON array of manifests on stdout")
    process.add_argument("--stack", help="a deployed stack's name (default: the offline local mode)")
    process.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for all items")
    process.add_argument("--verbose", action="store_true", help="the functions' INFO logs on stderr")

    status = commands.add_parser("status", help="an item's job record in a deployed stack")
    status.add_argument("media_id")
    status.add_argument("--stack", required=True)
    status.add_argument("--json", action="store_true")

    results = commands.add_parser("results", help="download an item's results from a deployed stack")
    results.add_argument("media_id")
    results.add_argument("--stack", required=True)
    results.add_argument("--out", default=DEFAULT_OUT)

    demo = commands.add_parser("demo", help=f"process samples/ offline into {DEMO_OUT}/")
    demo.add_argument("--out", default=DEMO_OUT)
    demo.add_argument("--json", action="store_true")
    demo.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT)
    demo.add_argument("--verbose", action="store_true")
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Only this command writes to stdout: functions log (Powertools) to stdout, so it points at stderr meanwhile.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        command = {"process": command_process, "status": command_status, "results": command_results,
                   "demo": command_demo}[args.command]
        return command(args, stdout)
    finally:
        sys.stdout = stdout


if __name__ == "__main__":
    sys.exit(main())
