"""The IAM report: per role of the template, what the tests used, what was denied, and what was granted but never
used (each such grant explained here, or listed as unexplained).

    make iam-report       # runs the workflow and local-mode tests with the decisions logged, then this report

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

from media_pipeline.local import deployment, iam

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
    ("Custom*", "*"): "CDK's custom resource that closes the VPC's default security group; runs in CloudFormation",
    ("VideoWorkerVpcFlowLog*", "*"): "VPC Flow Logs delivers the worker subnets' flow logs with the role",
}


@dataclass
class Grant:
    role: str
    action: str
    resources: list[str]
    statement: Mapping[str, Any]
    used: int = 0


def grants(snapshot: Mapping[str, Any], binding: deployment.Binding) -> list[Grant]:
    found = []
    for role, spec in snapshot["roles"].items():
        for statement in binding.resolve_all(spec["statements"]):
            if statement.get("Effect") != "Allow":
                continue
            for action in statement.get("Action", []):
                found.append(Grant(role, action, list(statement.get("Resource", ["*"])), statement))
    return found


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def explanation(grant: Grant) -> str | None:
    for (role, action), reason in EXPLAINED.items():
        if fnmatch.fnmatchcase(grant.role, role) and fnmatch.fnmatchcase(grant.action, action):
            return reason
    return None


def analyse(snapshot: Mapping[str, Any], binding: deployment.Binding,
            records: Iterable[Mapping[str, Any]]) -> tuple[list[Grant], Counter, list[Mapping[str, Any]]]:
    """(grants with their use counts, actions used per role, denials)."""
    by_arn = {binding.arn(role): role for role in snapshot["roles"]}
    all_grants = grants(snapshot, binding)
    used: Counter = Counter()
    denied = []
    for record in records:
        role = by_arn.get(record["principal"])
        if role is None:
            continue  # a test's own role, not the template's
        if not record["allowed"]:
            denied.append({**record, "role": role})
            continue
        used[(role, record["action"])] += 1
        request = iam.Request(record["action"], record["resource"], record.get("context") or {})
        for grant in all_grants:
            if grant.role == role and iam.evaluate([{**grant.statement, "Action": [grant.action]}], request)[0]:
                grant.used += 1
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
    from media_pipeline.local.runtime import binding

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log", type=Path, default=DEFAULT_LOG, help="decisions logged by the tests (JSON lines)")
    args = parser.parse_args(argv)
    snapshot = deployment.load()
    all_grants, used, denied = analyse(snapshot, binding(snapshot), read_log(args.log))
    text, unexplained = render(all_grants, used, denied)
    sys.stdout.write(text)
    return 1 if denied or unexplained else 0


if __name__ == "__main__":
    raise SystemExit(main())
