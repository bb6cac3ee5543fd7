"""`teardown`: remove a deployed stack and the data it keeps (buckets with every version, table, log key).

The stack keeps its buckets, table and key on `cdk destroy` unless it was deployed with `-c retain_data=false`
(docs/deploy.md, "Teardown"). This command finds them in the stack before deleting it, deletes the stack, then
empties each bucket of all object versions and delete markers and deletes it, deletes the table and schedules
the key's deletion (KMS waits at least 7 days).
"""
from __future__ import annotations

import argparse
import sys
from typing import IO, Any, Callable

from media_pipeline.cli import exits
from media_pipeline.cli.stack import add_aws_options, session

KEY_PENDING_DAYS = 7  # the shortest wait KMS allows
WAIT_SECONDS = 10  # between checks that the stack is gone


def register(commands: argparse._SubParsersAction) -> None:
    teardown = commands.add_parser("teardown", help="delete a deployed stack and everything it kept (data included)")
    teardown.add_argument("--stack", required=True)
    add_aws_options(teardown)
    teardown.add_argument("--yes", action="store_true", help="do not ask: delete the data without a question")
    teardown.set_defaults(run=command_teardown)


def retained_resources(cloudformation: Any, stack: str) -> list[tuple[str, str]]:
    """(type, physical id) of the stack's buckets, tables and keys."""
    kept = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=stack):
        for resource in page["StackResourceSummaries"]:
            if resource["ResourceType"] in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::DynamoDB::GlobalTable",
                                            "AWS::KMS::Key") and resource.get("PhysicalResourceId"):
                kept.append((resource["ResourceType"], resource["PhysicalResourceId"]))
    return kept


def empty_bucket(s3: Any, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many were removed."""
    removed = 0
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        entries = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                   for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        for start in range(0, len(entries), 1000):
            batch = entries[start:start + 1000]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
            removed += len(batch)
    return removed


def delete_retained(aws: Any, kept: list[tuple[str, str]], say: Callable[[str], None]) -> None:
    from botocore.exceptions import ClientError

    s3, dynamodb, kms = aws.client("s3"), aws.client("dynamodb"), aws.client("kms")
    missing = ("NoSuchBucket", "ResourceNotFoundException", "NotFoundException", "KMSInvalidStateException")
    # The media bucket logs to the access-log bucket: delete it first, so no new log lands in an emptied bucket.
    for kind, name in sorted(kept, key=lambda entry: "accesslog" in entry[1].lower()):
        try:
            if kind == "AWS::S3::Bucket":
                count = empty_bucket(s3, name)
                s3.delete_bucket(Bucket=name)
                say(f"deleted bucket {name} ({count} object versions and delete markers)")
            elif kind.startswith("AWS::DynamoDB::"):
                dynamodb.delete_table(TableName=name)
                say(f"deleted table {name}")
            else:
                kms.schedule_key_deletion(KeyId=name, PendingWindowInDays=KEY_PENDING_DAYS)
                say(f"scheduled key {name} for deletion in {KEY_PENDING_DAYS} days")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in missing:
                raise
            say(f"{kind} {name}: already gone")


def command_teardown(args: argparse.Namespace, stdout: IO[str]) -> int:
    aws = session(region=args.region, profile=args.profile)
    cloudformation = aws.client("cloudformation")
    cloudformation.describe_stacks(StackName=args.stack)  # a missing stack is one clear line (main)
    kept = retained_resources(cloudformation, args.stack)
    if not args.yes:
        listing = "\n".join(f"  {kind} {name}" for kind, name in kept)
        print(f"This deletes stack {args.stack} and, with every object in them:\n{listing}", file=sys.stderr)
        if not sys.stdin.isatty() or input("Type the stack name to go on: ").strip() != args.stack:
            print("media-pipeline: nothing deleted (pass --yes to skip the question)", file=sys.stderr)
            return exits.USAGE

    def say(text: str) -> None:
        stdout.write(text + "\n")
        stdout.flush()

    say(f"deleting stack {args.stack}")
    cloudformation.delete_stack(StackName=args.stack)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=args.stack, WaiterConfig={"Delay": WAIT_SECONDS,
                                                                                              "MaxAttempts": 360})
    delete_retained(aws, kept, say)
    return exits.OK
