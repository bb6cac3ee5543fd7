"""`media-pipeline backfill s3://bucket/prefix`: objects already in the upload bucket through the same ingest
(media_pipeline/backfill.py; docs/operations.md, "Backfill").

    media-pipeline backfill s3://BUCKET/PREFIX (--stack NAME | --local) [--no-wait] [--timeout S] [--json]

Starts the stack's backfill state machine (a Distributed Map over the objects), waits for it and prints one line:
how many objects were admitted, skipped (a version already processed or admitted) and rejected; `--json` prints the
report: the counts, each object's outcome, and the items admitted per minute. `--local` works on the local mode's
emulator (`--endpoint-url` or AWS_ENDPOINT_URL, as for `reconcile`). Exit status 0 when the backfill succeeded, 1
when it failed or could not start, 2 for a source it cannot read.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import IO, Any

from media_pipeline.cli import exits


@dataclass(frozen=True)
class BackfillTarget:
    bucket: str
    upload_prefix: str
    state_machine_arn: str


def register(commands: Any) -> None:
    from media_pipeline.cli.operations import _add_target

    parser = commands.add_parser("backfill", help="send the objects already under a prefix of the upload bucket "
                                                  "through ingest, once per object version")
    parser.add_argument("source", help="s3://BUCKET/PREFIX: the stack's upload bucket, under its upload prefix")
    _add_target(parser)
    parser.add_argument("--no-wait", action="store_true", help="start the backfill and return")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="seconds to wait for it (default 6 hours)")
    parser.add_argument("--name", help="the execution's name (default: backfill-<time>)")
    parser.set_defaults(run=command_backfill)


class Clients:
    """Clients for the stack's account (--region, --profile), or the local emulator's (as `reconcile --local`)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def client(self, service: str) -> Any:
        from media_pipeline.cli.operations import Target
        from media_pipeline.cli.stack import session

        if self.args.local:
            return Target.local(self.args.endpoint_url).client(service)
        return session(region=self.args.region, profile=self.args.profile).client(service)


def locate(target: Any, args: argparse.Namespace) -> BackfillTarget:
    """The upload bucket, its prefix and the backfill state machine: the stack's outputs, or the emulated account's."""
    if args.local:
        from media_pipeline.local import account

        return BackfillTarget(account.BUCKET, account.UPLOAD_PREFIX,
                              f"arn:aws:states:{account.REGION}:{account.ACCOUNT}:stateMachine:"
                              f"{account.BACKFILL_STATE_MACHINE_NAME}")
    [stack] = target.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    if "BackfillStateMachineArn" not in outputs:
        raise LookupError(f"stack {args.stack} has no backfill state machine (output BackfillStateMachineArn): deploy "
                          "this version of the app")
    return BackfillTarget(outputs["MediaBucketName"], outputs["UploadPrefix"], outputs["BackfillStateMachineArn"])


def command_backfill(args: argparse.Namespace, stdout: IO[str]) -> int:
    from media_pipeline import backfill

    try:
        target = Clients(args)
        where = locate(target, args)
        bucket, prefix = backfill.parse_source(args.source, bucket=where.bucket, upload_prefix=where.upload_prefix)
    except backfill.BackfillSourceError as exc:
        print(f"media-pipeline: backfill: {exc}", file=sys.stderr)
        return exits.USAGE
    except Exception as exc:  # noqa: BLE001 - say why, exit 1
        print(f"media-pipeline: backfill could not start: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exits.ERROR
    try:
        sfn = target.client("stepfunctions")
        execution_arn = backfill.start(sfn, where.state_machine_arn, bucket=bucket, prefix=prefix, name=args.name)
        if args.no_wait:
            started = {"execution_arn": execution_arn, "status": "RUNNING", "source": f"s3://{bucket}/{prefix}"}
            stdout.write(json.dumps(started, indent=2) + "\n" if args.json else
                         f"backfill started: {execution_arn} (s3://{bucket}/{prefix})\n")
            return exits.OK
        execution = backfill.wait(sfn, execution_arn, timeout=args.timeout)
        if execution["status"] == "RUNNING":
            print(f"media-pipeline: backfill {execution_arn} still running after {args.timeout:.0f} s",
                  file=sys.stderr)
            return exits.ERROR
        report = backfill.read_report(target.client("s3"), execution)
    except Exception as exc:  # noqa: BLE001 - say why, exit 1
        print(f"media-pipeline: backfill could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exits.ERROR
    stdout.write(json.dumps(report.as_dict(), indent=2) + "\n" if args.json else report.summary() + "\n")
    return exits.OK if report.status == "SUCCEEDED" else exits.ERROR
