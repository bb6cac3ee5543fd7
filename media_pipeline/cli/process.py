"""`process` (files through the pipeline, offline or on a deployed stack) and `demo` (the samples, offline)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

from media_pipeline.cli import exits
from media_pipeline.cli.inputs import collect_inputs
from media_pipeline.cli.items import Item, items_for
from media_pipeline.cli.output import excerpts, results_table
from media_pipeline.cli.progress import Board
from media_pipeline.cli.stack import add_aws_options

DEFAULT_OUT = "media-pipeline-results"
DEMO_OUT = "demo-results"
DEFAULT_TIMEOUT = 900.0


def register(commands: argparse._SubParsersAction) -> None:
    process = commands.add_parser("process", help="run files through the pipeline and save the results")
    process.add_argument("paths", nargs="+", metavar="PATH", help="files, or directories of files")
    add_run_options(process, default_out=DEFAULT_OUT)
    process.add_argument("--stack", help="a deployed stack's name (default: the offline local mode)")
    add_aws_options(process)
    process.add_argument("--redact-pii", action="store_true",
                         help="offline: redact personal data (the deployment's pii_redaction setting)")
    process.add_argument("--language", metavar="CODE",
                         help="offline: the speech's language as Transcribe names it (de-DE, es-US, ...); "
                              "default auto, identified (the deployment's transcribe_language setting)")
    process.set_defaults(run=command_process)

    demo = commands.add_parser("demo", help=f"process samples/ offline into {DEMO_OUT}/")
    add_run_options(demo, default_out=DEMO_OUT)
    demo.set_defaults(run=command_demo)


def add_run_options(parser: argparse.ArgumentParser, *, default_out: str) -> None:
    parser.add_argument("--out", default=default_out, help=f"results folder (default {default_out}/)")
    parser.add_argument("--json", action="store_true", help="print one JSON array of manifests on stdout, nothing else")
    parser.add_argument("--strict", action="store_true",
                        help=f"exit {exits.ITEM_FAILED} when any item FAILED (for scripts and CI)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds to wait for all items")
    parser.add_argument("--verbose", action="store_true", help="the functions' INFO logs on stderr")


def manifest_for_output(item: Item, out: Path) -> dict:
    """The saved manifest with its links as paths from the current directory (usable as printed)."""
    manifest = json.loads(json.dumps(item.manifest))
    base = (out / item.folder).as_posix()

    def rebase(links: dict) -> dict:
        return {name: f"{base}/{link}" if "://" not in link else link for name, link in links.items()}

    manifest["artifacts"] = rebase(manifest.get("artifacts") or {})
    video = manifest.get("video")
    if video:
        video["thumbnails"] = [f"{base}/{t}" for t in video.get("thumbnails") or []]
        if video.get("poster"):
            video["poster"] = f"{base}/{video['poster']}"
    pii = manifest.get("pii")
    if pii:
        for name in ("redacted_text", "entities"):
            if pii.get(name) and "://" not in pii[name]:
                pii[name] = f"{base}/{pii[name]}"
    return manifest


def command_process(args: argparse.Namespace, stdout: IO[str]) -> int:
    from media_pipeline.cli import results_page
    from media_pipeline.cli.runs import process_offline, process_on_stack

    inputs = collect_inputs(args.paths)
    if not inputs:
        print("media-pipeline: nothing to process", file=sys.stderr)
        return exits.USAGE
    if all(i.reason and i.reason[0] == "INPUT_NOT_FOUND" for i in inputs) and len(inputs) == len(args.paths):
        print(f"media-pipeline: no such file or directory: {', '.join(args.paths)}", file=sys.stderr)
        return exits.USAGE
    items = items_for(inputs)
    out = Path(args.out)
    started = time.monotonic()
    with Board(items, sys.stderr, live=False if args.verbose else None) as board:  # logs and a live board do not mix
        if args.stack:
            from media_pipeline.cli.stack import Stack, session

            board.phase(f"Looking up stack {args.stack}")
            stack = Stack.describe(args.stack, session(region=args.region, profile=args.profile))
            process_on_stack(stack, items, out, board, timeout=args.timeout)
        else:
            settings = {"PII_REDACTION": "enabled"} if getattr(args, "redact_pii", False) else {}
            if getattr(args, "language", None):
                settings["TRANSCRIBE_LANGUAGE"] = args.language
            try:
                process_offline(items, out, board, timeout=args.timeout, verbose=args.verbose, environment=settings)
            except Exception as exc:  # noqa: BLE001 - the local mode itself could not run: one line, exit 1
                if args.verbose:
                    raise
                print(f"media-pipeline: the offline pipeline could not run: {type(exc).__name__}: {exc} "
                      "(--verbose shows where)", file=sys.stderr)
                return exits.ERROR
        page = results_page.write(items, out)
    table = results_table(items)
    failed = [item for item in items if (item.manifest or {}).get("status") != "SUCCEEDED"]
    summary = (f"{len(items) - len(failed)} of {len(items)} items SUCCEEDED, {len(failed)} FAILED in "
               f"{time.monotonic() - started:.1f} s; results in {out}/, open {page}")
    if args.json:
        print(table, file=sys.stderr)
        print(summary, file=sys.stderr)
        stdout.write(json.dumps([manifest_for_output(item, out) for item in items], ensure_ascii=False, indent=2) + "\n")
    else:
        found = excerpts(items)
        stdout.write((found + "\n\n" if found else "") + table + "\n" + summary + "\n")
    stdout.flush()
    return exits.for_items(items, strict=args.strict)


def command_demo(args: argparse.Namespace, stdout: IO[str]) -> int:
    from media_pipeline.local.account import PROJECT_ROOT

    samples = PROJECT_ROOT / "samples"
    paths = [os.path.relpath(p) if p.is_relative_to(Path.cwd()) else str(p)  # short labels in the table
             for p in sorted(samples.iterdir()) if p.is_file() and p.suffix not in (".py", ".md", ".txt")]
    args.paths, args.stack, args.region, args.profile = paths, None, None, None
    print(f"Processing the {len(paths)} samples in {samples} offline; results in {args.out}/", file=sys.stderr)
    return command_process(args, stdout)
