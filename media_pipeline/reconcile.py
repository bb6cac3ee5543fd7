"""Every upload ends in a manifest: find the uploads that have neither a manifest nor a running execution, and
finish them.

An upload can fall out of the pipeline in two ways that no step sees:
- its event never reached ingest, or ingest gave up on it (the message waits in the ingest DLQ): there is no job
  record, or a RUNNING record whose execution was never started;
- its execution ended without a manifest (stopped by hand, timed out, failed in RecordFailure itself): the record
  is RUNNING and the execution is over.

The first kind is sent through ingest again, as the message an S3 "Object Created" EventBridge event puts on the
ingest queue, so ingest's sniffing, rejections and dedup apply (its conditional job record and the execution named
by the media id make a second delivery of the same upload a no-op). The second kind is not run again: its
execution was stopped or failed for a reason a rerun would likely meet again, and an operator's StopExecution
means "stop". It gets a FAILED manifest whose `error.code` is `EXECUTION_ABORTED`, `EXECUTION_TIMED_OUT` or
`EXECUTION_FAILED` (docs/reason-codes.md); an item of the Express workflow, whose execution cannot be described,
is called ended when its record says it started more than 5 minutes (Express's limit) and a margin ago, and gets
`EXECUTION_FAILED` (one that was never started is sent again). Uploading the object again (a new version)
processes it anew. No paid job is started by reconcile itself.

Uploads younger than the grace period are left alone (their event may still be on its way), and so are items that
are running or finished. `dry_run` reports without changing anything; a second run finds nothing to do once ingest
has taken the resent messages. Plain logic over the project's clients and settings: the scheduled function
(functions/reconcile) and `media-pipeline reconcile` run this.
"""
from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator
from urllib.parse import quote_plus

from media_pipeline import workflows
from media_pipeline.aws import client
from media_pipeline.contract import MediaItem
from media_pipeline.ids import media_id_for
from media_pipeline.manifest import new_manifest
from media_pipeline.pipeline_results import FINAL_STATUSES
from media_pipeline.results import publish
from media_pipeline.settings import settings
from media_pipeline.steps import ENDED_STATUSES
from media_pipeline.storage import s3_uri

DEFAULT_GRACE_SECONDS = 15 * 60
EXPRESS_MARGIN_SECONDS = 60  # past an Express execution's 5-minute limit before reconcile calls it ended
# Findings: what reconcile saw for one upload.
LOST = "lost"                      # no job record: the event was lost or its message waits in the DLQ
NOT_STARTED = "not_started"        # a RUNNING record whose execution does not exist (ingest failed after recording)
EXECUTION_ENDED = "execution_ended"  # a RUNNING record whose execution ended FAILED, TIMED_OUT or ABORTED
RUNNING = "running"
FINISHED = "finished"
TOO_RECENT = "too_recent"          # younger than the grace period
# Actions: what it did about it (dry_run: what it would do).
RESENT = "resent"
RECORDED_FAILED = "recorded_failed"
REPORTED_ITEMS = 1000  # the report lists at most this many items (its counts cover all)


@dataclass(frozen=True)
class UploadVersion:
    """The latest version of an object under the upload prefix, as ListObjectVersions gives it."""

    bucket: str
    key: str
    version_id: str | None  # None in an unversioned bucket
    etag: str
    size: int
    last_modified: dt.datetime

    @property
    def media_id(self) -> str:
        return media_id_for(self.bucket, self.key, self.version_id or self.etag)  # as ingest derives it


@dataclass
class Finding:
    media_id: str
    key: str
    version_id: str | None
    finding: str
    action: str | None = None
    execution_status: str | None = None
    error_code: str | None = None


@dataclass
class Report:
    dry_run: bool
    grace_seconds: int
    checked: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    actions: dict[str, int] = field(default_factory=dict)
    items: list[Finding] = field(default_factory=list)  # every upload but the finished ones
    listed: int = 0  # how many items there were to list (the report keeps REPORTED_ITEMS)

    def add(self, finding: Finding) -> None:
        self.checked += 1
        self.counts[finding.finding] = self.counts.get(finding.finding, 0) + 1
        if finding.action:
            self.actions[finding.action] = self.actions.get(finding.action, 0) + 1
        if finding.finding != FINISHED:
            self.listed += 1
            if len(self.items) < REPORTED_ITEMS:
                self.items.append(finding)

    def as_dict(self) -> dict[str, Any]:
        report = asdict(self)
        report["items"] = [{k: v for k, v in item.items() if v is not None} for item in report.pop("items")]
        report["truncated"] = report.pop("listed") > len(self.items)
        return report


def latest_uploads(bucket: str, prefix: str) -> Iterator[UploadVersion]:
    """The current version of every object under the prefix (deleted objects and older versions left out)."""
    pages = client("s3").get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for version in page.get("Versions", []):
            if not version.get("IsLatest"):
                continue
            version_id = version.get("VersionId")
            yield UploadVersion(bucket=bucket, key=version["Key"],
                                version_id=None if version_id in (None, "null") else version_id,
                                etag=version.get("ETag", "").strip('"'), size=int(version.get("Size", 0)),
                                last_modified=version["LastModified"])


def upload_event(upload: UploadVersion, *, region: str, account: str = "") -> dict[str, Any]:
    """The EventBridge event S3 sends for the upload, as the upload rule puts it on the ingest queue (the key
    encoded as S3 encodes it in events: ingest decodes it once)."""
    detail_object: dict[str, Any] = {"key": quote_plus(upload.key, safe="/"), "size": upload.size, "etag": upload.etag,
                                     "sequencer": ""}
    if upload.version_id:
        detail_object["version-id"] = upload.version_id
    return {
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Object Created", "source": "aws.s3",
        "account": account, "time": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region, "resources": [f"arn:aws:s3:::{upload.bucket}"],
        "detail": {"version": "0", "bucket": {"name": upload.bucket}, "object": detail_object,
                   "request-id": "", "requester": "media-pipeline-reconcile", "reason": "PutObject"},
    }


def _job(media_id: str) -> dict[str, str] | None:
    item = client("dynamodb").get_item(TableName=settings().jobs_table, ConsistentRead=True, Key={
        "pk": {"S": f"MEDIA#{media_id}"}, "sk": {"S": "JOB"}}).get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def execution_arn(state_machine_arn: str, name: str) -> str:
    return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"


def _execution(name: str) -> dict[str, Any] | None:
    sfn = client("stepfunctions")
    try:
        return sfn.describe_execution(executionArn=execution_arn(settings().state_machine_arn, name))
    except sfn.exceptions.ExecutionDoesNotExist:
        return None


def examine(upload: UploadVersion, now: dt.datetime, grace_seconds: int) -> Finding:
    """What the upload's job record and execution say (reads only)."""
    found = Finding(media_id=upload.media_id, key=upload.key, version_id=upload.version_id, finding=FINISHED)
    if (now - upload.last_modified).total_seconds() < grace_seconds:
        found.finding = TOO_RECENT
        return found
    job = _job(found.media_id)
    if job is None:
        found.finding, found.action = LOST, RESENT
        return found
    if job.get("status") in FINAL_STATUSES:
        return found
    if job.get("workflow") == workflows.EXPRESS:
        return _examine_express(job, found, now)
    execution = _execution(job.get("execution_name") or found.media_id)
    if execution is None:
        found.finding, found.action = NOT_STARTED, RESENT
    elif execution["status"] in ENDED_STATUSES:
        found.finding, found.action = EXECUTION_ENDED, RECORDED_FAILED
        found.execution_status = execution["status"]
        found.error_code = f"EXECUTION_{execution['status']}"
    else:  # RUNNING (or PENDING_REDRIVE); SUCCEEDED has written its manifest through finalize
        found.finding, found.execution_status = RUNNING, execution["status"]
    return found


def _examine_express(job: dict[str, str], found: Finding, now: dt.datetime) -> Finding:
    """An Express execution cannot be described (AWS keeps nothing of it but its log): its record says whether ingest
    started it, and it cannot run past EXPRESS_MAX_SECONDS. Not started: sent again, as a Standard item whose
    execution does not exist. Started longer ago than that (plus a margin) and still no manifest: it ended without
    one (it failed in RecordFailure, or timed out), and is recorded FAILED as an ended Standard execution is."""
    if not job.get("execution_arn"):
        found.finding, found.action = NOT_STARTED, RESENT
        return found
    started = dt.datetime.strptime(job.get("started_at") or job["created_at"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=dt.timezone.utc)
    if (now - started).total_seconds() <= workflows.EXPRESS_MAX_SECONDS + EXPRESS_MARGIN_SECONDS:
        found.finding, found.execution_status = RUNNING, "RUNNING"
        return found
    found.finding, found.action = EXECUTION_ENDED, RECORDED_FAILED
    found.execution_status, found.error_code = "ENDED", "EXECUTION_FAILED"
    return found


def resend(upload: UploadVersion) -> None:
    """The upload's "Object Created" message on the ingest queue, for ingest to process as any other."""
    sqs = client("sqs")
    region = sqs.meta.region_name or ""
    account = settings().state_machine_arn.split(":")[4] if settings().state_machine_arn.count(":") >= 5 else ""
    sqs.send_message(QueueUrl=settings().ingest_queue_url,
                     MessageBody=json.dumps(upload_event(upload, region=region, account=account)))


def record_ended_execution(upload: UploadVersion, finding: Finding) -> None:
    """A FAILED manifest for an item whose execution ended without one (written as finalize writes its own)."""
    job = _job(finding.media_id) or {}
    if job.get("workflow") == workflows.EXPRESS:  # nothing to describe: its log group says how it ended
        arn, execution = job.get("execution_arn", ""), {}
        cause = (f"an Express execution lasts {workflows.EXPRESS_MAX_SECONDS} s at most; how it ended is in the "
                 "Express state machine's log group")
    else:
        arn = execution_arn(settings().state_machine_arn, job.get("execution_name") or finding.media_id)
        execution = _execution(job.get("execution_name") or finding.media_id) or {}
        cause = " ".join(part for part in (execution.get("error"), execution.get("cause")) if part)
    media = MediaItem(media_id=finding.media_id, bucket=upload.bucket, key=upload.key, version_id=upload.version_id,
                      etag=upload.etag, size=upload.size, media_type=job.get("media_type") or "unknown",
                      source=s3_uri(upload.bucket, upload.key))
    ended = "ended" if finding.execution_status == "ENDED" else f"ended {finding.execution_status}"
    message = (f"the execution {arn} {ended} without writing a manifest"
               + (f" ({cause[:500]})" if cause else "") + "; upload the object again to process it anew")
    publish(new_manifest(media, status="FAILED", error={"code": finding.error_code or "EXECUTION_FAILED",
                                                        "message": message}))


def reconcile(*, dry_run: bool = False, grace_seconds: int = DEFAULT_GRACE_SECONDS,
              now: dt.datetime | None = None) -> Report:
    """Examine every latest upload and finish those that fell out of the pipeline (see the module's docstring)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    report = Report(dry_run=dry_run, grace_seconds=grace_seconds)
    for upload in latest_uploads(settings().media_bucket, settings().upload_prefix):
        finding = examine(upload, now, grace_seconds)
        if finding.action and not dry_run:
            if finding.action == RESENT:
                resend(upload)
            else:
                record_ended_execution(upload, finding)
        report.add(finding)
    return report
