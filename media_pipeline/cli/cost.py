"""`media-pipeline cost`: what a run cost, summed from its manifests' cost sections, by day and media type.

    media-pipeline cost [FOLDER...] [--stack NAME] [--json]

FOLDER is a results folder (`process --out`, `demo`): every manifest.json under it. With --stack, every manifest
under the deployed stack's results prefix. A manifest written before items carried their cost is priced from its
`usage` now (its orchestration uncounted, and the report says how many).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import IO, Any, Iterable

from media_pipeline.cost import cost_section

COLUMNS = ("items", "ai", "orchestration", "total")


def register(commands: Any) -> None:
    """The subcommand on the CLI's parser (media_pipeline/cli/__init__.py)."""
    cost = commands.add_parser("cost", help="sum the cost of a results folder or a deployed stack's results")
    cost.add_argument("folders", nargs="*", metavar="FOLDER", help="results folders (default: demo-results/)")
    cost.add_argument("--stack", help="a deployed stack's name: its results prefix in S3")
    cost.add_argument("--json", action="store_true", help="print the report as JSON")
    cost.set_defaults(run=command_cost)


def local_manifests(folders: Iterable[str]) -> Iterable[dict[str, Any]]:
    for folder in folders:
        root = Path(folder)
        if not root.is_dir():
            raise FileNotFoundError(folder)
        for path in sorted(root.rglob("manifest.json")):
            yield json.loads(path.read_text(encoding="utf-8"))


def stack_manifests(stack_name: str) -> Iterable[dict[str, Any]]:
    import boto3

    from media_pipeline.cli.stack import Stack

    stack = Stack.describe(stack_name)
    s3 = boto3.client("s3")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=stack.bucket, Prefix=stack.results_prefix):
        for entry in page.get("Contents", []):
            if entry["Key"].endswith("/manifest.json"):
                yield json.loads(s3.get_object(Bucket=stack.bucket, Key=entry["Key"])["Body"].read())


def report(manifests: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Totals, and rows by (day, media type): items, AI, orchestration, total, share; transitions per item."""
    rows: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: {c: 0 for c in COLUMNS} | {"transitions": 0})
    uncounted, currency, as_of = 0, "USD", set()
    for manifest in manifests:
        cost = manifest.get("cost")
        if cost is None:
            cost = cost_section(manifest, None)
            uncounted += 1
        currency = cost["currency"]
        as_of.add(cost["prices_as_of"])
        row = rows[(manifest.get("created_at", "")[:10] or "unknown", manifest.get("media_type", "unknown"))]
        row["items"] += 1
        row["ai"] += cost["ai_total"]
        row["orchestration"] += cost["orchestration_total"]
        row["total"] += cost["total"]
        row["transitions"] += cost["units"].get("state_transitions", 0)
    out = [{"day": day, "media_type": media_type, **_rounded(row)} for (day, media_type), row in sorted(rows.items())]
    total = _rounded({c: sum(r[c] for r in rows.values()) for c in (*COLUMNS, "transitions")})
    return {"currency": currency, "prices_as_of": sorted(as_of), "rows": out, "total": total,
            "manifests_without_cost": uncounted}


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    share = row["orchestration"] / row["ai"] if row["ai"] else None
    return {"items": row["items"], "ai": round(row["ai"], 6), "orchestration": round(row["orchestration"], 6),
            "total": round(row["total"], 6), "orchestration_share": None if share is None else round(share, 4),
            "transitions": row["transitions"]}


def table(found: dict[str, Any]) -> str:
    header = f"{'day':10}  {'media type':10} {'items':>5} {'AI':>11} {'orchestration':>13} {'share':>7} {'total':>11}"
    lines = [header, "-" * len(header)]

    def line(day: str, media_type: str, row: dict[str, Any]) -> str:
        share = "-" if row["orchestration_share"] is None else f"{row['orchestration_share']:.1%}"
        return (f"{day:10}  {media_type:10} {row['items']:5d} {row['ai']:11.6f} {row['orchestration']:13.6f} "
                f"{share:>7} {row['total']:11.6f}")

    lines += [line(r["day"], r["media_type"], r) for r in found["rows"]]
    lines += ["-" * len(header), line("all", "", found["total"])]
    lines.append(f"{found['currency']}, list prices as of {', '.join(found['prices_as_of']) or '-'} "
                 "(media_pipeline/prices/aws.json)")
    if found["manifests_without_cost"]:
        lines.append(f"{found['manifests_without_cost']} manifests had no cost section: priced from their usage, "
                     "orchestration not counted")
    return "\n".join(lines)


def command_cost(args: argparse.Namespace, stdout: IO[str]) -> int:
    try:
        manifests = list(stack_manifests(args.stack) if args.stack else local_manifests(args.folders or ["demo-results"]))
    except FileNotFoundError as exc:
        print(f"media-pipeline: no such results folder: {exc}", file=sys.stderr)
        return 2
    if not manifests:
        print("media-pipeline: no manifests found", file=sys.stderr)
        return 1
    found = report(manifests)
    stdout.write((json.dumps(found, indent=2) if args.json else table(found)) + "\n")
    return 0
