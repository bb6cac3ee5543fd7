"""Operations on a running pipeline: `reconcile` (every upload ends in a manifest) and `redrive` (the ingest DLQ's
messages back to the ingest queue). docs/deploy.md, "When something goes wrong".

    media-pipeline reconcile --stack NAME [--dry-run] [--grace-minutes M] [--json]
    media-pipeline redrive --stack NAME [--no-wait] [--json]

`--local` instead of `--stack` works on the local mode's emulator (the emulated account's names; the endpoint from
`--endpoint-url` or AWS_ENDPOINT_URL, as LocalPipeline sets it). `reconcile` invokes the stack's own `reconcile`
function (the scheduled one: same code, same role, same grants) and prints its report; `redrive` calls SQS's
StartMessageMoveTask on the ingest DLQ, which moves the messages back to the ingest queue, and waits for it.
The callback DLQs have no source queue to move back to: `redrive` replays each of their messages to its callback
function (the event EventBridge or SNS could not deliver, or the `requestPayload` of Lambda's failed invocation)
and deletes the messages whose replay succeeded. The callbacks read the job's state themselves and use a task token
once, so replaying an event twice is harmless.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from typing import IO, Any

MOVE_TIMEOUT_SECONDS = 600.0


@dataclass
class Target:
    """Where the operations act: a deployed stack's resources (by its outputs), or the local emulator's."""

    name: str
    reconcile_function: str
    ingest_dlq_url: str
    callback_dlqs: dict[str, tuple[str, str]]  # callback function label -> (its DLQ's URL, its function name)
    session_options: dict[str, Any]

    def client(self, service: str, **config: Any) -> Any:
        from botocore.config import Config

        from media_pipeline.cli.stack import session

        options = dict(self.session_options)
        chosen = session(region=options.pop("region", None), profile=options.pop("profile", None))
        return chosen.client(service, config=Config(**config) if config else None, **options)

    @classmethod
    def of_stack(cls, name: str, *, region: str | None = None, profile: str | None = None) -> "Target":
        from media_pipeline.cli.stack import session

        stacks = session(region=region, profile=profile).client("cloudformation").describe_stacks(
            StackName=name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        missing = [key for key in ("ReconcileFunctionName", "DeadLetterQueueUrl") if key not in outputs]
        if missing:
            raise LookupError(f"stack {name} has no outputs {missing}: deploy this version of the app")
        callbacks = {label: (outputs[queue], outputs[function]) for label, queue, function in (
            ("transcribe_callback", "TranscribeCallbackDeadLetterQueueUrl", "TranscribeCallbackFunctionName"),
            ("textract_callback", "TextractCallbackDeadLetterQueueUrl", "TextractCallbackFunctionName"))
            if queue in outputs and function in outputs}
        return cls(name=name, reconcile_function=outputs["ReconcileFunctionName"],
                   ingest_dlq_url=outputs["DeadLetterQueueUrl"], callback_dlqs=callbacks,
                   session_options={"region": region, "profile": profile})

    @classmethod
    def local(cls, endpoint_url: str | None = None) -> "Target":
        import os

        from media_pipeline import steps
        from media_pipeline.local import account

        options: dict[str, Any] = {"region_name": account.REGION}
        endpoint = endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        if endpoint:
            options["endpoint_url"] = endpoint
        if not os.environ.get("AWS_ACCESS_KEY_ID"):  # the emulator takes any credentials
            options.update(aws_access_key_id="local", aws_secret_access_key="local")
        return cls(name="local", reconcile_function=steps.triggered_by(steps.SCHEDULE).name,
                   ingest_dlq_url=f"https://sqs.{account.REGION}.amazonaws.com/{account.ACCOUNT}/{account.INGEST_DLQ}",
                   callback_dlqs={}, session_options=options)  # the emulated account has no callback DLQs


def register(commands: Any) -> None:
    """Register `reconcile` and `redrive` on the CLI's subparsers; each sets `run` to its command."""
    reconcile = commands.add_parser("reconcile", help="finish uploads with neither a manifest nor a running execution")
    _add_target(reconcile)
    reconcile.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    reconcile.add_argument("--grace-minutes", type=float, default=None,
                           help="leave uploads younger than this alone (default: the deployment's, 15)")
    reconcile.set_defaults(run=command_reconcile)

    redrive = commands.add_parser("redrive", help="the ingest DLQ back to the ingest queue; the callback DLQs "
                                                  "replayed to their functions")
    _add_target(redrive)
    redrive.add_argument("--no-wait", action="store_true", help="start the move task and return")
    redrive.set_defaults(run=command_redrive)


def _add_target(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack", help="a deployed stack's name")
    where.add_argument("--local", action="store_true", help="the local mode's emulator")
    parser.add_argument("--endpoint-url", help="with --local: the emulator's endpoint (default AWS_ENDPOINT_URL)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    from media_pipeline.cli.stack import add_aws_options

    add_aws_options(parser)


def target_of(args: argparse.Namespace) -> Target:
    if args.local:
        return Target.local(args.endpoint_url)
    return Target.of_stack(args.stack, region=args.region, profile=args.profile)


def run_reconcile(target: Target, *, dry_run: bool, grace_seconds: int | None) -> dict[str, Any]:
    """The stack's reconcile function, invoked and waited for; its report."""
    payload: dict[str, Any] = {"dry_run": dry_run}
    if grace_seconds is not None:
        payload["grace_seconds"] = grace_seconds
    lam = target.client("lambda", read_timeout=960, retries={"max_attempts": 1})
    response = lam.invoke(FunctionName=target.reconcile_function, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise RuntimeError(f"the reconcile function failed: {body}")
    return body


def command_reconcile(args: argparse.Namespace, stdout: IO[str]) -> int:
    try:
        target = target_of(args)
        grace = None if args.grace_minutes is None else int(args.grace_minutes * 60)
        report = run_reconcile(target, dry_run=args.dry_run, grace_seconds=grace)
    except Exception as exc:  # noqa: BLE001 - say why, exit 1
        print(f"media-pipeline: reconcile could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        stdout.write(json.dumps(report, indent=2) + "\n")
        return 0
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in sorted(report["counts"].items())) or "none"
    verb = "would be" if report["dry_run"] else "were"
    stdout.write(f"uploads checked: {report['checked']} ({counts}); "
                 f"{report['actions'].get('resent', 0)} {verb} sent through ingest again, "
                 f"{report['actions'].get('recorded_failed', 0)} {verb} recorded FAILED\n")
    for item in report["items"]:
        stdout.write(f"{item['media_id']}  {item['finding']:<16} {item.get('action') or '-':<16} "
                     f"{item.get('error_code') or ''}  {item['key']}\n")
    return 0


def queue_arn(sqs: Any, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def waiting_messages(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def callback_event(body: str) -> dict[str, Any] | None:
    """The event a callback DLQ's message holds: EventBridge's undelivered event (the body itself), SNS's
    undelivered notification (its envelope, as an SNS event record), or Lambda's failed asynchronous invocation
    (the invocation record's `requestPayload`). None for anything else."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    if isinstance(message.get("requestPayload"), dict):
        return message["requestPayload"]
    if message.get("Type") == "Notification" and "Message" in message:
        return {"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": message}]}
    if "detail-type" in message and "detail" in message:
        return message
    return None


def replay_callbacks(target: Target, label: str) -> dict[str, int]:
    """Each message of a callback's DLQ invoked on its function again; deleted once the function succeeded.
    A message that fails again, or holds no event, stays (it comes back after 5 minutes: look at it)."""
    url, function = target.callback_dlqs[label]
    sqs, lam = target.client("sqs"), target.client("lambda", read_timeout=120)
    counts = {"waiting": waiting_messages(sqs, url), "replayed": 0, "failed": 0, "unreadable": 0}
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return counts
        for message in messages:
            event = callback_event(message["Body"])
            if event is None:
                counts["unreadable"] += 1
                continue
            response = lam.invoke(FunctionName=function, Payload=json.dumps(event).encode())
            if response.get("FunctionError"):
                counts["failed"] += 1
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            counts["replayed"] += 1


def run_redrive(target: Target, *, wait: bool, timeout: float = MOVE_TIMEOUT_SECONDS) -> dict[str, Any]:
    """StartMessageMoveTask on the ingest DLQ (back to the ingest queue), then its progress; the callback DLQs
    replayed."""
    sqs = target.client("sqs")
    source = queue_arn(sqs, target.ingest_dlq_url)
    report: dict[str, Any] = {"source_arn": source, "waiting": waiting_messages(sqs, target.ingest_dlq_url)}
    if report["waiting"]:
        report["task_handle"] = sqs.start_message_move_task(SourceArn=source)["TaskHandle"]
        deadline = time.monotonic() + timeout
        while True:
            [task] = sqs.list_message_move_tasks(SourceArn=source, MaxResults=1)["Results"]
            if not wait or task["Status"] != "RUNNING" or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        report.update(status=task["Status"], moved=task.get("ApproximateNumberOfMessagesMoved", 0),
                      to_move=task.get("ApproximateNumberOfMessagesToMove", 0))
        if task.get("FailureReason"):
            report["failure_reason"] = task["FailureReason"]
    else:
        report.update(status="NOTHING_TO_MOVE", moved=0, to_move=0)
    report["callback_dlqs"] = {label: replay_callbacks(target, label) for label in target.callback_dlqs}
    return report


def command_redrive(args: argparse.Namespace, stdout: IO[str]) -> int:
    try:
        report = run_redrive(target_of(args), wait=not args.no_wait)
    except Exception as exc:  # noqa: BLE001 - say why, exit 1
        print(f"media-pipeline: redrive could not run: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        stdout.write(f"ingest DLQ: {report['waiting']} waiting, {report['moved']} moved back to the ingest queue "
                     f"({report['status']})\n")
        for label, counts in report["callback_dlqs"].items():
            stdout.write(f"{label} DLQ: {counts['waiting']} waiting, {counts['replayed']} replayed, "
                         f"{counts['failed']} failed again, {counts['unreadable']} unreadable\n")
    callbacks_ok = all(not c["failed"] and not c["unreadable"] for c in report["callback_dlqs"].values())
    return 0 if report["status"] in ("COMPLETED", "NOTHING_TO_MOVE", "RUNNING") and callbacks_ok else 1
