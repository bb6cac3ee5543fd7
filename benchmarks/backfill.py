"""Backfill of an existing archive on the emulator: every object admitted once, a second run admits none.

    python benchmarks/backfill.py --objects 2000
    python benchmarks/backfill.py --objects 2000 --batch-size 100 --max-concurrency 20

Puts --objects small PNG images under uploads/archive/ of the emulated upload bucket without their S3 events (an
archive that predates the pipeline), then runs `media-pipeline backfill s3://<bucket>/uploads/archive/ --local`
twice, in this process, on the real backfill state machine (the Distributed Map with the emulator's workarounds),
function, jobs table and ingest queue, with IAM enforced. Ingest's event source is paused meanwhile so that what the
backfill sent can be counted on the ingest queue: every object's message exactly once (the point is admission;
ingest itself, with its bounded concurrency, is benchmarks/burst.py's subject). The last line printed is one JSON
object; the exit status is 0 when every object was admitted once and the second run admitted none.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline import cli  # noqa: E402
from media_pipeline.local import account, iam  # noqa: E402
from media_pipeline.local.runtime import LocalPipeline  # noqa: E402

PREFIX = f"{account.UPLOAD_PREFIX}archive/"


def backfill_once(bucket: str) -> tuple[dict[str, Any], float]:
    """`media-pipeline backfill --local --json` in this process; its report and the command's wall time."""
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        status = cli.main(["backfill", f"s3://{bucket}/{PREFIX}", "--local", "--json", "--timeout", "3600"])
    if status != 0:
        raise SystemExit(f"backfill exited {status}")
    return json.loads(out.getvalue()), time.monotonic() - started


def queued_keys(pipeline: LocalPipeline) -> Counter:
    """How many messages on the ingest queue name each key. Read from moto's store (mock mode): ReceiveMessage
    takes about 0.1 s a call on a queue of thousands of messages, longer than the backfill itself."""
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[account.ACCOUNT][account.REGION].queues[account.INGEST_QUEUE]
    return Counter(unquote_plus(json.loads(message.body)["detail"]["object"]["key"]) for message in queue._messages)


def admission_records(pipeline: LocalPipeline) -> int:
    ddb = pipeline.client("dynamodb")
    count, kwargs = 0, {"TableName": pipeline.table, "FilterExpression": "sk = :s",
                        "ExpressionAttributeValues": {":s": {"S": "BACKFILL"}}, "Select": "COUNT"}
    while True:
        page = ddb.scan(**kwargs)
        count += page["Count"]
        if "LastEvaluatedKey" not in page:
            return count
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def run(*, objects: int, batch_size: int, max_concurrency: int) -> dict[str, Any]:
    from tests.document_factory import image_bytes

    body = image_bytes(("Archived page", "Total 12.50"))
    pipeline = LocalPipeline(mode="mock", engines=False)
    pipeline.backfill_settings = {**account.BACKFILL_SETTINGS, "BatchSize": str(batch_size),
                                  "MaxConcurrency": str(max_concurrency)}  # cdk.json's backfill_* settings
    with pipeline:
        events, lam, s3 = pipeline.client("events"), pipeline.client("lambda"), pipeline.client("s3")
        events.disable_rule(Name=account.UPLOAD_RULE)  # no events: an archive that predates the pipeline
        started = time.monotonic()
        for index in range(objects):
            s3.put_object(Bucket=pipeline.bucket, Key=f"{PREFIX}page-{index:05d}.png", Body=body)
        put_seconds = time.monotonic() - started
        events.enable_rule(Name=account.UPLOAD_RULE)
        mappings = [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]]
        for uuid in mappings:  # ingest paused: the admitted messages stay on the queue to be counted
            lam.update_event_source_mapping(UUID=uuid, Enabled=False)

        iam.clear_decisions()
        first, first_wall = backfill_once(pipeline.bucket)
        second, second_wall = backfill_once(pipeline.bucket)
        denials = [iam.explain(d) for d in iam.denials()]
        verify_started = time.monotonic()
        keys = queued_keys(pipeline)
        records = admission_records(pipeline)
        verify_seconds = time.monotonic() - verify_started
    listed = {item["key"] for item in first["items"]}
    return {
        "objects": objects, "batch_size": batch_size, "max_concurrency": max_concurrency,
        "put_seconds": round(put_seconds, 1),
        "first": {"counts": first["counts"], "items_listed": len(first["items"]), "seconds": round(first["seconds"], 1),
                  "wall_seconds": round(first_wall, 1), "admitted_per_minute": first["admitted_per_minute"],
                  "report": first.get("report_uri")},
        "second": {"counts": second["counts"], "items_listed": len(second["items"]),
                   "skip_reasons": dict(Counter(i.get("reason", "").split(" by ")[0] for i in second["items"])),
                   "seconds": round(second["seconds"], 1), "wall_seconds": round(second_wall, 1)},
        "ingest_queue": {"messages": sum(keys.values()), "distinct_keys": len(keys),
                         "keys_sent_twice": sum(1 for n in keys.values() if n > 1)},
        "admission_records": records, "verify_seconds": round(verify_seconds, 1),
        "every_object_listed": listed == {f"{PREFIX}page-{i:05d}.png" for i in range(objects)},
        "iam_denials": denials[:5], "iam_denial_count": len(denials),
    }


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--objects", type=int, default=2000)
    options.add_argument("--batch-size", type=int, default=int(account.BACKFILL_SETTINGS["BatchSize"]))
    options.add_argument("--max-concurrency", type=int, default=int(account.BACKFILL_SETTINGS["MaxConcurrency"]))
    args = options.parse_args()
    stdout, sys.stdout = sys.stdout, sys.stderr  # the functions log to stdout
    try:
        summary = run(objects=args.objects, batch_size=args.batch_size, max_concurrency=args.max_concurrency)
    finally:
        sys.stdout = stdout
    print(json.dumps(summary), flush=True)
    n = args.objects
    ok = (summary["first"]["counts"]["admitted"] == n and summary["second"]["counts"]["admitted"] == 0
          and summary["second"]["counts"]["skipped"] == n and summary["ingest_queue"]["messages"] == n
          and summary["ingest_queue"]["distinct_keys"] == n and summary["admission_records"] == n
          and summary["every_object_listed"] and summary["iam_denial_count"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
