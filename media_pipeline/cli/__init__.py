"""The `media-pipeline` command: run media through the pipeline offline, or through a deployed stack.

    media-pipeline process PATH... [--out DIR] [--json] [--strict] [--stack NAME [--region R] [--profile P]]
    media-pipeline status MEDIA_ID --stack NAME [--region R] [--profile P]
    media-pipeline results MEDIA_ID --stack NAME [--region R] [--profile P] [--out DIR]
    media-pipeline demo [--out DIR]
    media-pipeline reconcile (--stack NAME | --local) [--dry-run] [--json]   (media_pipeline/cli/operations.py)
    media-pipeline redrive (--stack NAME | --local) [--json]
    media-pipeline backfill s3://BUCKET/PREFIX (--stack NAME | --local) [--no-wait] [--json]   (media_pipeline/cli/backfill.py)
    media-pipeline cost [FOLDER...] [--stack NAME] [--json]
    media-pipeline teardown --stack NAME [--region R] [--profile P] [--yes]
    media-pipeline serve [--port 8000] [--user NAME] [--password PASSWORD]

Without --stack, `process` starts the offline local mode (media_pipeline.local.runtime): the pipeline's own
handlers and state machine on an embedded emulator with offline engines. Progress goes to stderr; stdout holds
the results table, or with --json exactly one JSON array of manifests and nothing else. Each input gets its own
folder under --out (media_pipeline/cli/layout.py) and the run an `index.html` (media_pipeline/cli/results_page.py).
Exit status: media_pipeline/cli/exits.py.

Each command lives in its own module with a `register(commands)` function that adds its sub-parser and sets
`run=<function(args, stdout) -> exit status>`; adding a command is that module plus one line in COMMAND_MODULES.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from media_pipeline.cli import exits

# One line per command module (each has `register(commands)`); the order is the order of `--help`.
COMMAND_MODULES = (
    "media_pipeline.cli.process",     # process, demo
    "media_pipeline.cli.deployed",    # status, results
    "media_pipeline.cli.teardown",    # teardown
    "media_pipeline.cli.operations",  # reconcile, redrive
    "media_pipeline.cli.backfill",    # backfill
    "media_pipeline.cli.cost",        # cost
    "media_pipeline.cli.serve",       # serve
)


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="media-pipeline", description=__doc__.split("\n\n")[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(commands)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    from media_pipeline.cli.stack import expected_error

    args = parser().parse_args(argv)
    # Only the command writes to stdout: functions log (Powertools) to stdout, so it points at stderr meanwhile.
    stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        return args.run(args, stdout)
    except KeyboardInterrupt:
        print("media-pipeline: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - what a user can fix is one line; anything else is a bug: traceback
        message = expected_error(exc)
        if message is None:
            raise
        print(f"media-pipeline: {message}", file=sys.stderr)
        return exits.ERROR
    finally:
        sys.stdout = stdout
