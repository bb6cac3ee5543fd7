"""`media-pipeline backfill --local`: objects already in the upload bucket (put there before the pipeline was
listening) go through the same ingest, once per object version, on the pipeline's own emulated account: the
backfill state machine's Distributed Map, its function and the ingest queue, every call authorized as its role."""
from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import pytest

from media_pipeline import backfill, cli
from media_pipeline.local import account
from media_pipeline.local.runtime import LocalPipeline
from tests.document_factory import image_bytes
from tests.upload_events import upload_rule_disabled

ARCHIVE = f"{account.UPLOAD_PREFIX}archive/"
NEW_IMAGES = 27


@pytest.fixture(scope="module")
def pipeline():
    with LocalPipeline(mode="mock", engines=False) as running:
        running.client("s3")  # the account's clients before the tests start
        yield running


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def run_backfill(prefix: str = ARCHIVE) -> dict[str, Any]:
    status, out, err = run_cli("backfill", f"s3://{account.BUCKET}/{prefix}", "--local", "--json")
    assert status == 0, err
    return json.loads(out)


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["key"]: item for item in report["items"]}



def started_executions(pipeline: LocalPipeline) -> list[str]:
    """The name of every execution started on the pipeline's two workflows, from the emulator's own record: an
    Express execution can be neither listed nor described through the API, as in AWS."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    machines = (pipeline.state_machine_arn, pipeline.express_state_machine_arn)
    backend = stepfunctions_parser_backends[account.ACCOUNT][account.REGION]
    return [execution.name for machine in backend.state_machines if machine.arn in machines
            for execution in machine.executions]

def test_backfill_admits_each_object_once_and_admitted_items_succeed(pipeline: LocalPipeline, engines) -> None:
    engines.documents[1] = {1: ["An archived page"]}
    processed = pipeline.upload(image_bytes(("Already here",)), name="archive/processed.png")  # the normal path
    assert pipeline.wait(processed.media_id, timeout=60)["status"] == "SUCCEEDED"
    s3 = pipeline.client("s3")
    with upload_rule_disabled(pipeline):
        for index in range(NEW_IMAGES):
            s3.put_object(Bucket=pipeline.bucket, Key=f"{ARCHIVE}scan-{index:02d}.png",
                          Body=image_bytes((f"Archived page {index}",)))
        s3.put_object(Bucket=pipeline.bucket, Key=f"{ARCHIVE}notes.txt", Body=b"plain text is not media\n")
        s3.put_object(Bucket=pipeline.bucket, Key=f"{ARCHIVE}empty.png", Body=b"")

    report = run_backfill()

    assert report["status"] == "SUCCEEDED" and report["source"] == f"s3://{account.BUCKET}/{ARCHIVE}"
    assert report["counts"] == {"admitted": NEW_IMAGES, "skipped": 1, "rejected": 2, "failed": 0}
    items = by_key(report)
    assert len(report["items"]) == NEW_IMAGES + 3 == len(items)  # every object listed, once
    assert items[processed.key] == {"key": processed.key, "outcome": "skipped", "reason": "already processed",
                                    "media_id": processed.media_id, "version_id": processed.version_id}
    assert items[f"{ARCHIVE}notes.txt"]["outcome"] == "rejected"
    assert items[f"{ARCHIVE}notes.txt"]["reason"].startswith("UNSUPPORTED_MEDIA_TYPE: ")
    assert items[f"{ARCHIVE}empty.png"]["reason"].startswith("EMPTY_OBJECT")
    admitted = [item for item in report["items"] if item["outcome"] == "admitted"]
    assert [item["key"] for item in admitted] == [f"{ARCHIVE}scan-{i:02d}.png" for i in range(NEW_IMAGES)]
    assert report["admitted_per_minute"] > 0 and report["report_uri"].startswith(
        f"s3://{account.BUCKET}/{backfill.REPORT_PREFIX}/")

    # Through the same ingest: each admitted item gets its job record and its execution, and ends SUCCEEDED.
    for item in admitted:
        manifest = pipeline.wait(item["media_id"], timeout=120)
        assert manifest["status"] == "SUCCEEDED", manifest.get("error")
        assert manifest["source"]["key"] == item["key"] and manifest["source"]["version_id"] == item["version_id"]
    names = started_executions(pipeline)  # images run Express: ListExecutions cannot list them
    assert sorted(names) == sorted({*names}) and {item["media_id"] for item in admitted} <= set(names)
    assert pipeline.job(admitted[0]["media_id"])["status"] == "SUCCEEDED"

    # A second backfill of the same prefix admits nothing: every version was processed (or is rejected again).
    again = run_backfill()
    assert again["counts"] == {"admitted": 0, "skipped": NEW_IMAGES + 1, "rejected": 2, "failed": 0}
    assert {item["reason"] for item in again["items"] if item["outcome"] == "skipped"} == {"already processed"}


def test_a_second_backfill_skips_what_the_first_admitted_before_ingest_records_it(pipeline: LocalPipeline,
                                                                                 engines) -> None:
    """Two backfills over the same objects: the admission record (MEDIA#<id> / BACKFILL) lets one admit each."""
    engines.documents[1] = {1: ["An archived page"]}
    prefix = f"{account.UPLOAD_PREFIX}twice/"
    sqs = pipeline.client("sqs")
    queue = pipeline.binding.ref("IngestQueue")
    with upload_rule_disabled(pipeline):
        for index in range(3):
            pipeline.client("s3").put_object(Bucket=pipeline.bucket, Key=f"{prefix}{index}.png",
                                             Body=image_bytes((f"Twice {index}",)))
    # Ingest does not take messages meanwhile: the first backfill's admissions wait in the queue.
    mappings = pipeline.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    uuids = [m["UUID"] for m in mappings]
    for uuid in uuids:
        pipeline.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=False)
    try:
        first, second = run_backfill(prefix), run_backfill(prefix)
        waiting = int(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"])
    finally:
        for uuid in uuids:
            pipeline.client("lambda").update_event_source_mapping(UUID=uuid, Enabled=True)
    assert first["counts"]["admitted"] == 3 and second["counts"]["admitted"] == 0
    name = first["execution_arn"].rsplit(":", 1)[1]
    assert {item["reason"] for item in second["items"]} == {f"already admitted by {name}"}
    assert waiting == 3  # one message per object


def test_sources_the_pipeline_cannot_read_are_refused_in_one_line(pipeline: LocalPipeline) -> None:
    status, out, err = run_cli("backfill", "s3://someone-elses-bucket/media/", "--local")
    assert status == 2 and out == "" and err.count("\n") == 1
    assert "reads only the stack's upload bucket" in err and "Traceback" not in err
    status, _, err = run_cli("backfill", f"s3://{account.BUCKET}/results/", "--local")
    assert status == 2 and "outside the upload prefix 'uploads/'" in err


def test_the_source_is_narrowed_to_the_upload_prefix() -> None:
    assert backfill.parse_source("s3://b", bucket="b", upload_prefix="uploads/") == ("b", "uploads/")
    assert backfill.parse_source("s3://b/uploads/2024/", bucket="b", upload_prefix="uploads/") == ("b", "uploads/2024/")
    with pytest.raises(backfill.BackfillSourceError, match="not an s3://bucket/prefix"):
        backfill.parse_source("/local/folder", bucket="b", upload_prefix="uploads/")
