"""The `media-pipeline` command: run media through the pipeline offline, or through a deployed stack.

    media-pipeline process PATH... [--out DIR] [--json] [--stack NAME] [--redact-pii]
    media-pipeline status MEDIA_ID --stack NAME
    media-pipeline results MEDIA_ID --stack NAME [--out DIR]
    media-pipeline demo [--out DIR]
    media-pipeline serve [--port 8000] [--user NAME] [--password PASSWORD]

Without --stack, `process` starts the offline local mode (media_pipeline.local.runtime): the pipeline's own
handlers and state machine on an embedded emulator with offline engines. Progress goes to stderr; stdout holds
the results table, or with --json exactly one JSON array of manifests and nothing else. The exit status is 0
when every input got a manifest, whatever its status (a FAILED item carries its reason); 1 when the pipeline
could not produce one; 2 for a usage error.
"""
from __future__ import annotations

import argparse
import sys

from media_pipeline.cli import serve
from media_pipeline.cli.commands import command_demo, command_process, command_results, command_status

DEFAULT_OUT = "media-pipeline-results"
DEMO_OUT = "demo-results"
DEFAULT_TIMEOUT = 900.0


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
    process.add_argument("--redact-pii", action="store_true",
                         help="offline: redact personal data (the deployment's pii_redaction setting)")

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
    serve.add_parser(commands)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # Only this command writes to stdout: functions log (Powertools) to stdout, so it points at stderr meanwhile.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        command = {"process": command_process, "status": command_status, "results": command_results,
                   "demo": command_demo, "serve": serve.run}[args.command]
        return command(args, stdout)
    finally:
        sys.stdout = stdout
