"""Backfill: objects already in the upload bucket sent through the same ingest as a new upload.

`media-pipeline backfill s3://bucket/prefix` starts the backfill state machine (statemachines/backfill.asl.json): a
Distributed Map lists the objects under the prefix (ItemReader, ListObjectsV2), hands them in batches to
`functions/backfill_items`, which calls `admit_batch` here, and writes what each batch returned to
`s3://<media bucket>/backfill/<map run>/` (ResultWriter). For each object:

- **admitted**: the same "Object Created" message S3's event puts on the ingest queue (built by
  media_pipeline/reconcile.py's `upload_event`) is sent there, so ingest's sniffing, its job record, its bounded
  concurrency and the Textract/Transcribe admission limits apply unchanged. Before sending, a conditional write
  records the admission in the jobs table (`pk = MEDIA#<media_id>`, `sk = BACKFILL`): the media id names the object
  and its version (ETag in an unversioned bucket), so two backfills never admit the same version twice;
- **skipped**: `already processed` (the version has a job record: ingest saw it, from its upload event or a backfill)
  or `already admitted` (another backfill admitted it and ingest has not recorded it yet);
- **rejected**: what ingest would reject at once (`EMPTY_OBJECT`, `OBJECT_TOO_LARGE`, `UNSUPPORTED_MEDIA_TYPE`), an
  object deleted since it was listed (`OBJECT_NOT_FOUND`) or outside the upload prefix (`OUTSIDE_UPLOAD_PREFIX`).
  Rejected objects are not sent: they would only become FAILED manifests; the report lists them.

The admission record expires after ADMISSION_TTL_SECONDS (the ingest DLQ's retention): by then ingest has recorded
the object, or its message is gone and a new backfill may admit it again.

The report (`read_report`) is the ResultWriter's files read back: every object with its outcome, the counts, and the
items admitted per minute. A batch that failed as a whole (after the state's retries) is listed as `failed` per object;
the map run tolerates `backfill_tolerated_failure_percentage` of them (cdk.json).
"""
from __future__ import annotations

import datetime as dt
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable

from media_pipeline.aws import client
from media_pipeline.errors import MediaRejected
from media_pipeline.ids import media_id_for
from media_pipeline.jobs import get_job, job_key
from media_pipeline.media_types import HEAD_BYTES, rejection
from media_pipeline.reconcile import UploadVersion, resend
from media_pipeline.settings import settings
from media_pipeline.storage import reading_upload

ADMISSION_SORT_KEY = "BACKFILL"
ADMISSION_TTL_SECONDS = 14 * 24 * 3600  # the ingest DLQ's retention (infra/ingest.py)
REPORT_PREFIX = "backfill"  # s3://<media bucket>/backfill/<map run id>/ (the ResultWriter's prefix)
ADMITTED, SKIPPED, REJECTED, FAILED = "admitted", "skipped", "rejected", "failed"
ALREADY_PROCESSED, ALREADY_ADMITTED = "already processed", "already admitted"


class BackfillSourceError(ValueError):
    """The source is not one the backfill can read (a one-line message for the CLI)."""


# ---- the source: the stack's upload bucket, under its upload prefix ------------------------------------------------

def parse_source(uri: str, *, bucket: str, upload_prefix: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix) within the upload prefix. Only the stack's own upload bucket: every
    step reads uploads with grants on `<media bucket>/<upload prefix>*` alone, so an object elsewhere could be
    admitted but never read; copy it under the upload prefix first."""
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri or "")
    if not match:
        raise BackfillSourceError(f"{uri!r} is not an s3://bucket/prefix URI")
    source_bucket, prefix = match.group(1), match.group(2)
    if source_bucket != bucket:
        raise BackfillSourceError(
            f"backfill reads only the stack's upload bucket (s3://{bucket}/{upload_prefix}): the pipeline's steps may "
            f"read no other bucket; copy the objects there first (aws s3 sync s3://{source_bucket}/{prefix} "
            f"s3://{bucket}/{upload_prefix}...)")
    if upload_prefix.startswith(prefix):
        prefix = upload_prefix  # the whole bucket, or a parent of the upload prefix: the uploads
    if not prefix.startswith(upload_prefix):
        raise BackfillSourceError(f"s3://{bucket}/{prefix} is outside the upload prefix {upload_prefix!r}: the "
                                  "pipeline's steps read uploads only there")
    return bucket, prefix


# ---- one batch: what functions/backfill_items returns ---------------------------------------------------------------

@dataclass
class Outcome:
    key: str
    outcome: str  # admitted | skipped | rejected | failed
    reason: str | None = None
    media_id: str | None = None
    version_id: str | None = None

    def to_state(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}


def _current_version(bucket: str, key: str) -> tuple[str | None, str, bytes, int]:
    """The object's current version id, ETag, first bytes and size (one ranged GET)."""
    with reading_upload(bucket, key):
        response = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{HEAD_BYTES - 1}")
        head = response["Body"].read()
    version_id = response.get("VersionId")
    version_id = None if version_id in (None, "null") else version_id
    total = str(response.get("ContentRange", "")).rpartition("/")[2]
    size = int(total) if total.isdigit() else int(response.get("ContentLength", len(head)))
    return version_id, response.get("ETag", "").strip('"'), head, size


def _claim(media_id: str, *, bucket: str, key: str, version: str, backfill: str) -> str | None:
    """The admission record, written once per object version; None when written, else the backfill that holds it."""
    ddb = client("dynamodb")
    now = time.time()
    item = {"pk": {"S": f"MEDIA#{media_id}"}, "sk": {"S": ADMISSION_SORT_KEY}, "media_id": {"S": media_id},
            "bucket": {"S": bucket}, "key": {"S": key}, "version": {"S": version}, "backfill": {"S": backfill},
            "admitted_at": {"S": dt.datetime.fromtimestamp(now, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")},
            "expires_at": {"N": str(int(now) + ADMISSION_TTL_SECONDS)}}
    try:
        ddb.put_item(TableName=settings().jobs_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return None
    except ddb.exceptions.ConditionalCheckFailedException:
        existing = ddb.get_item(TableName=settings().jobs_table, ConsistentRead=True,
                                Key=_admission_key(media_id)).get("Item") or {}
        return existing.get("backfill", {}).get("S", "another backfill")


def _admission_key(media_id: str) -> dict[str, Any]:
    return {**job_key(media_id), "sk": {"S": ADMISSION_SORT_KEY}}


def _release(media_id: str) -> None:
    client("dynamodb").delete_item(TableName=settings().jobs_table, Key=_admission_key(media_id))


def admit(item: dict[str, Any], *, bucket: str, backfill: str) -> Outcome:
    """One listed object (ItemReader's `{"Key", "Etag", "Size", ...}`): admitted, skipped or rejected."""
    key = item["Key"]
    if not key.startswith(settings().upload_prefix):
        return Outcome(key, REJECTED, f"OUTSIDE_UPLOAD_PREFIX: not under {settings().upload_prefix}")
    rejected = rejection(int(item.get("Size") or 0), None, settings().max_media_bytes)
    if rejected:
        return Outcome(key, REJECTED, ": ".join(rejected))
    try:
        version_id, etag, head, size = _current_version(bucket, key)
    except MediaRejected as exc:  # deleted since it was listed
        return Outcome(key, REJECTED, f"{exc.code}: {exc.reason}")
    media_id = media_id_for(bucket, key, version_id or etag)  # as ingest derives it
    found = Outcome(key, SKIPPED, None, media_id, version_id)
    if get_job(media_id) is not None:
        found.reason = ALREADY_PROCESSED
        return found
    rejected = rejection(size, head, settings().max_media_bytes)
    if rejected:
        found.outcome, found.reason = REJECTED, ": ".join(rejected)
        return found
    holder = _claim(media_id, bucket=bucket, key=key, version=version_id or etag, backfill=backfill)
    if holder is not None and holder != backfill:
        found.reason = f"{ALREADY_ADMITTED} by {holder}"
        return found
    # Ours (a retried batch sends again: ingest's job record and execution name make a second message a no-op).
    upload = UploadVersion(bucket=bucket, key=key, version_id=version_id, etag=etag, size=size,
                           last_modified=dt.datetime.now(dt.timezone.utc))
    try:
        resend(upload)
    except Exception:
        if holder is None:
            _release(media_id)  # not sent: a retry or another backfill may admit it
        raise
    found.outcome = ADMITTED
    return found


def admit_batch(items: Iterable[dict[str, Any]], *, bucket: str, backfill: str) -> dict[str, Any]:
    """A batch of the map run: each object's outcome, and when the batch finished (for the admission rate)."""
    outcomes = [admit(item, bucket=bucket, backfill=backfill).to_state() for item in items]
    return {"items": outcomes, "finished_at": time.time()}


# ---- the report: the ResultWriter's files read back ------------------------------------------------------------------

@dataclass
class Report:
    execution_arn: str
    status: str
    source: str = ""
    counts: dict[str, int] = field(default_factory=lambda: {ADMITTED: 0, SKIPPED: 0, REJECTED: 0, FAILED: 0})
    items: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    admitted_per_minute: float = 0.0
    report_uri: str | None = None
    error: str | None = None

    def add(self, outcome: dict[str, Any]) -> None:
        self.counts[outcome["outcome"]] = self.counts.get(outcome["outcome"], 0) + 1
        self.items.append(outcome)

    def as_dict(self) -> dict[str, Any]:
        report = {name: value for name, value in vars(self).items() if value is not None}
        report["items"] = sorted(self.items, key=lambda item: item["key"])
        return report

    def summary(self) -> str:
        counts = self.counts
        line = (f"backfill {self.status.lower()}: {counts[ADMITTED]} admitted, {counts[SKIPPED]} skipped, "
                f"{counts[REJECTED]} rejected" + (f", {counts[FAILED]} failed" if counts.get(FAILED) else "")
                + f" in {self.seconds:.1f} s ({self.admitted_per_minute:.0f} admitted a minute)")
        return line + (f"; report {self.report_uri}" if self.report_uri else "") + \
            (f"; {self.error}" if self.error else "")


def start(sfn: Any, state_machine_arn: str, *, bucket: str, prefix: str, name: str | None = None) -> str:
    """Start a backfill execution (named after the time unless given); its ARN."""
    name = name or "backfill-" + dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return sfn.start_execution(stateMachineArn=state_machine_arn, name=name,
                               input=json.dumps({"bucket": bucket, "prefix": prefix}))["executionArn"]


def wait(sfn: Any, execution_arn: str, *, timeout: float, poll_seconds: float = 1.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        execution = sfn.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING" or time.monotonic() > deadline:
            return execution
        time.sleep(poll_seconds)


def read_report(s3: Any, execution: dict[str, Any]) -> Report:
    """The finished (or failed) execution's outcome per object, from the ResultWriter's files."""
    report = Report(execution_arn=execution["executionArn"], status=execution["status"])
    source = json.loads(execution.get("input") or "{}")
    report.source = f"s3://{source.get('bucket', '')}/{source.get('prefix', '')}"
    started, stopped = execution.get("startDate"), execution.get("stopDate")
    if started and stopped:
        report.seconds = max((stopped - started).total_seconds(), 0.0)
    if execution["status"] != "SUCCEEDED":
        report.error = " ".join(part for part in (execution.get("error"), execution.get("cause")) if part)[:500]
    output = json.loads(execution.get("output") or "null") or {}
    details = output.get("ResultWriterDetails") if isinstance(output, dict) else None
    if not details:
        return report
    report.report_uri = f"s3://{details['Bucket']}/{details['Key']}"
    manifest = json.loads(s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read())
    last_finished = None
    for status, files in manifest.get("ResultFiles", {}).items():
        for listed in files:
            for record in json.loads(s3.get_object(Bucket=details["Bucket"], Key=listed["Key"])["Body"].read()):
                if status == "SUCCEEDED":
                    batch = json.loads(record.get("Output") or "{}")
                    for outcome in batch.get("items", []):
                        report.add(outcome)
                    last_finished = max(last_finished or 0, batch.get("finished_at") or 0)
                else:  # a batch that failed as a whole: each of its objects, with the batch's error
                    reason = " ".join(p for p in (record.get("Error"), record.get("Cause")) if p)[:300]
                    for item in json.loads(record.get("Input") or "{}").get("Items", []):
                        report.add({"key": item["Key"], "outcome": FAILED, "reason": reason})
    if started and last_finished:  # admission ran from the start to the last batch's end
        report.seconds = max(last_finished - started.timestamp(), 0.001)
    if report.seconds:
        report.admitted_per_minute = round(report.counts[ADMITTED] * 60 / report.seconds, 1)
    return report
