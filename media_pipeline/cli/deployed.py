"""`status` and `results`: one item of a deployed stack, by media id."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO

from media_pipeline.cli import exits
from media_pipeline.cli.output import reason_or_title
from media_pipeline.cli.process import DEFAULT_OUT
from media_pipeline.cli.stack import Stack, add_aws_options, session


def register(commands: argparse._SubParsersAction) -> None:
    status = commands.add_parser("status", help="an item's job record in a deployed stack")
    status.add_argument("media_id")
    status.add_argument("--stack", required=True)
    add_aws_options(status)
    status.add_argument("--json", action="store_true")
    status.set_defaults(run=command_status)

    results = commands.add_parser("results", help="download an item's results from a deployed stack")
    results.add_argument("media_id")
    results.add_argument("--stack", required=True)
    add_aws_options(results)
    results.add_argument("--out", default=DEFAULT_OUT, help="the item's folder is OUT/<media id>/")
    results.set_defaults(run=command_results)


def stack_of(args: argparse.Namespace) -> Stack:
    return Stack.describe(args.stack, session(region=args.region, profile=args.profile))


def command_status(args: argparse.Namespace, stdout: IO[str]) -> int:
    stack = stack_of(args)
    job = stack.job(args.media_id)
    if job is None:
        print(f"media-pipeline: no job {args.media_id} in stack {args.stack}", file=sys.stderr)
        return exits.ERROR
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
    return exits.OK


def command_results(args: argparse.Namespace, stdout: IO[str]) -> int:
    from media_pipeline.cli.layout import ItemFolder, local_manifest
    from media_pipeline.manifest import MANIFEST_NAME

    stack = stack_of(args)
    manifest = stack.manifest(args.media_id)
    if manifest is None:
        print(f"media-pipeline: no results for {args.media_id} in stack {args.stack} (yet)", file=sys.stderr)
        return exits.ERROR
    folder = ItemFolder(Path(args.out), Path(args.media_id))
    try:
        stack.download(args.media_id, folder.partial)
        results_uri = f"s3://{stack.bucket}/{stack.results_prefix}{args.media_id}/"
        saved = local_manifest(manifest, input_path=None, results_uri=results_uri)
        folder.write_json(MANIFEST_NAME, saved)
        target = folder.commit()
    except BaseException:
        folder.discard()
        raise
    for path in sorted(p for p in target.rglob("*") if p.is_file()):
        stdout.write(f"{path}\n")
    return exits.OK
