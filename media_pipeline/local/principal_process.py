"""Run a script as one of the template's roles in a process of its own (the video worker as its Fargate task):
its AWS calls are authorized like those made in the emulator's own process.

    python -m media_pipeline.local.principal_process --role ARN --state-machine ARN --names JSON -- script.py
"""
from __future__ import annotations

import argparse
import json
import os
import runpy
import sys

from media_pipeline.local import deployment, iam


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", required=True, help="the role's ARN in the emulated account")
    parser.add_argument("--state-machine", default="", help="the state machine whose task tokens the script holds")
    parser.add_argument("--names", default="{}", help="the emulated account's names for the template's symbols")
    parser.add_argument("script")
    args = parser.parse_args(argv)
    snapshot = deployment.load()
    account, region = args.role.split(":")[4], os.environ.get("AWS_REGION", "us-east-1")
    binding = deployment.Binding(region=region, account=account, names=json.loads(args.names),
                                 types=dict(snapshot["resource_types"]))
    iam.register_snapshot(snapshot, binding, token_state_machine=lambda token: args.state_machine or None)
    iam.install()
    sys.argv = [args.script]
    with iam.acting_as(args.role):
        runpy.run_path(args.script, run_name="__main__")


if __name__ == "__main__":
    main()
