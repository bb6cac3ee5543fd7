"""The IAM report: per role of the template, what the tests used, what was denied, and what was granted but never
used (each such grant explained here, or listed as unexplained).

    make iam-report       # runs the handler, workflow and local-mode tests with the decisions logged, then this report

    python -m media_pipeline.local.iam_report --log .cache/iam-decisions.jsonl
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from media_pipeline.local import deployment

DEFAULT_LOG = Path(".cache/iam-decisions.jsonl")

# Grants no test can use, because no pipeline code makes the call: AWS makes it with the role on the code's behalf.
# (role pattern, action pattern) -> why the grant is needed.
EXPLAINED: dict[tuple[str, str], str] = {
    ("*", "logs:CreateLogStream"): "the Lambda runtime (or ECS's awslogs driver) writes the logs with the role",
    ("*", "logs:PutLogEvents"): "the Lambda runtime (or ECS's awslogs driver) writes the logs with the role",
    ("*", "xray:Put*"): "X-Ray tracing sends segments with the role (the emulator runs with tracing off)",
    ("WorkflowStateMachineRole", "xray:Get*"): "Step Functions' X-Ray tracing reads sampling rules with the role",
    ("WorkflowStateMachineRole", "logs:*"): "Step Functions delivers execution logs to CloudWatch Logs with the role",
    ("VideoWorkerTaskDefinitionExecutionRole", "ecr:*"): "ECS pulls the worker image with the execution role",
    ("*CallbackRole", "sqs:SendMessage"): "Lambda sends an asynchronous event that failed every retry to the "
                                          "function's dead-letter queue with the function's role",
    ("IngestRole", "sqs:*"): "the SQS event source mapping polls, deletes and extends messages with the function's "
                             "role (the emulator's poller is the service, not the function)",
    ("*Role", "s3:AbortMultipartUpload"): "aborts a multipart result upload that failed half-way (storage's "
                                          "streamed writes; S3's lifecycle rule would only clean it up after a day)",
    ("*Role", "s3:GetObject"): "reads an upload that has no version id: S3 gives new objects the version 'null' "
                               "when an operator suspends the bucket's versioning",
    ("StartDocumentAnalysisRole", "states:SendTaskFailure"): "a retried start that finds its Textract job FAILED "
                                                             "reports the failure itself (handler tests, with a "
                                                             "recording client)",
    ("VideoWorkerTaskRole", "states:SendTaskFailure"): "the worker reports a video it cannot process, or a stall "
                                                       "(handler tests, with a recording client)",
    ("Custom*", "*"): "CDK's custom resource that closes the VPC's default security group; runs in CloudFormation",
    ("VideoWorkerVpcFlowLog*", "*"): "VPC Flow Logs delivers the worker subnets' flow logs with the role",
}


@dataclass
class Grant:
    role: str
    index: int  # the statement's position in the role's policies (as the emulator numbers them)
    action: str
    resources: list[str]
    used: int = 0


def grants(snapshot: Mapping[str, Any]) -> list[Grant]:
    found = []
    for role, spec in snapshot["roles"].items():
        for index, statement in enumerate(spec["statements"]):
            if statement.get("Effect") == "Allow":
                found += [Grant(role, index, action, list(statement.get("Resource", ["*"])))
                          for action in statement.get("Action", [])]
    return found


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def explanation(grant: Grant) -> str | None:
    for (role, action), reason in EXPLAINED.items():
        if fnmatch.fnmatchcase(grant.role, role) and fnmatch.fnmatchcase(grant.action, action):
            return reason
    return None


def analyse(snapshot: Mapping[str, Any], records: Iterable[Mapping[str, Any]],
            ) -> tuple[list[Grant], Counter, list[Mapping[str, Any]]]:
    """(grants with their use counts, actions used per role, denials). A role is known by its name: the emulated
    accounts name each role after its symbol in the snapshot."""
    all_grants = grants(snapshot)
    by_key = {(g.role, g.index, g.action): g for g in all_grants}
    used: Counter = Counter()
    denied = []
    for record in records:
        role = record["principal"].rsplit("/", 1)[-1]
        delivery = record["principal"].startswith("service/")  # EventBridge or SNS delivering to a target
        if role not in snapshot["roles"] and not delivery:
            continue  # a test's own role, not the template's
        if not record["allowed"]:
            if not record.get("expected"):  # a test that provokes a denial on purpose asserts on it itself
                denied.append({**record, "role": role})
            continue
        if delivery:
            continue
        used[(role, record["action"])] += 1
        for index, action in record.get("grants", []):
            if (role, index, action) in by_key:
                by_key[(role, index, action)].used += 1
    return all_grants, used, denied


def render(all_grants: list[Grant], used: Counter, denied: list[Mapping[str, Any]]) -> tuple[str, int]:
    lines = ["# IAM report", "", "| role | action | resources | calls | note |", "|---|---|---|---|---|"]
    unexplained = 0
    for grant in sorted(all_grants, key=lambda g: (g.role, g.action)):
        note = "used" if grant.used else explanation(grant)
        if note is None:
            note, unexplained = "**UNUSED: no test made this call**", unexplained + 1
        lines.append(f"| {grant.role} | {grant.action} | {', '.join(grant.resources)} | {grant.used} | {note} |")
    lines += ["", f"Denials: {len(denied)}"]
    for record in denied[:50]:
        lines.append(f"- {record['role']} {record['operation']}: {record['action']} on {record['resource']} "
                     f"({record['reason']})")
    used_roles = {role for role, _ in used}
    lines += ["", f"Roles exercised: {len(used_roles)}; calls authorized: {sum(used.values())}; "
                  f"grants: {len(all_grants)}, used {sum(1 for g in all_grants if g.used)}, "
                  f"explained {sum(1 for g in all_grants if not g.used and explanation(g))}, unexplained {unexplained}"]
    return "\n".join(lines) + "\n", unexplained


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG, help="decisions logged by the tests (JSON lines)")
    args = parser.parse_args(argv)
    snapshot = deployment.load()
    all_grants, used, denied = analyse(snapshot, read_log(args.log))
    text, unexplained = render(all_grants, used, denied)
    sys.stdout.write(text)
    return 1 if denied or unexplained else 0


if __name__ == "__main__":
    raise SystemExit(main())
