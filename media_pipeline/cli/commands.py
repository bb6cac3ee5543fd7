"""The commands: process, status, results, demo. Each returns the exit status (docs in media_pipeline/cli/__init__.py)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import IO

from media_pipeline.cli.items import expand_inputs
from media_pipeline.cli.output import excerpts, manifest_for_output, reason_or_title, results_table
from media_pipeline.cli.runs import process_offline, process_on_stack
from media_pipeline.cli.stack import Stack


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
            settings = {"PII_REDACTION": "enabled"} if getattr(args, "redact_pii", False) else {}
            if getattr(args, "language", None):
                settings["TRANSCRIBE_LANGUAGE"] = args.language
            items = process_offline(paths, out, timeout=args.timeout, verbose=args.verbose, board_stream=sys.stderr,
                                    environment=settings)
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
    from media_pipeline.local.account import PROJECT_ROOT

    samples = PROJECT_ROOT / "samples"
    paths = [os.path.relpath(p) if p.is_relative_to(Path.cwd()) else str(p)  # short labels in the table
             for p in sorted(samples.iterdir()) if p.is_file() and p.suffix not in (".py", ".md", ".txt")]
    args.paths, args.stack = paths, None
    print(f"Processing the {len(paths)} samples in {samples} offline; results in {args.out}/", file=sys.stderr)
    return command_process(args, stdout)
