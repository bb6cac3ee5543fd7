"""Ingest: S3 'Object Created' events (via EventBridge and SQS) → a job record and one execution per upload."""
from __future__ import annotations

import json
from dataclasses import replace
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from media_pipeline import jobs, workflows
from media_pipeline.aws import client
from media_pipeline.contract import MediaItem, PipelineState, Steps
from media_pipeline.errors import MediaRejected
from media_pipeline.ids import media_id_for
from media_pipeline.manifest import new_manifest
from media_pipeline.media_types import HEAD_BYTES, rejection, sniff
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.results import publish
from media_pipeline.settings import settings
from media_pipeline.storage import head_upload, read_head, s3_uri

processor = BatchProcessor(event_type=EventType.SQS)


def uploads_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The objects an SQS message announces: an EventBridge event, or an S3 notification's Records."""
    if body.get("detail-type") == "Object Created":
        detail = body["detail"]
        obj = detail["object"]
        return [{"bucket": detail["bucket"]["name"], "key": obj["key"], "version_id": obj.get("version-id"),
                 "etag": obj.get("etag"), "size": obj.get("size")}]
    uploads = []
    for record in body.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        uploads.append({"bucket": s3["bucket"]["name"], "key": s3["object"]["key"],
                        "version_id": s3["object"].get("versionId"), "etag": s3["object"].get("eTag"),
                        "size": s3["object"].get("size")})
    return uploads  # s3:TestEvent and other messages announce nothing


def upload_key(raw_key: str) -> str:
    """S3 URL-encodes keys in its notifications ('+' for a space, '%2B' for '+'): decode exactly once."""
    return unquote_plus(raw_key)


def _missing_media(upload: dict[str, Any], key: str) -> MediaItem:
    bucket = upload["bucket"]
    version = upload.get("version_id") or upload.get("etag")
    return MediaItem(media_id=media_id_for(bucket, key, version), bucket=bucket, key=key,
                     version_id=upload.get("version_id"), etag=upload.get("etag"), size=upload.get("size") or 0,
                     media_type="unknown", source=s3_uri(bucket, key))


def ingest_upload(upload: dict[str, Any]) -> dict[str, Any]:
    """Record the upload once and start its execution; rejected uploads get a FAILED manifest at once.

    A missing object or version (404, or the 403 S3 answers without s3:ListBucket) is rejected with
    OBJECT_NOT_FOUND; throttling and other S3 errors raise, so SQS delivers the message again.
    """
    bucket, key = upload["bucket"], upload_key(upload["key"])
    try:
        head = head_upload(bucket, key, upload.get("version_id"))
        version_id = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        size = int(head.get("ContentLength", 0))
        first_bytes = read_head(bucket, key, min(size, HEAD_BYTES), version_id)
    except MediaRejected as exc:  # OBJECT_NOT_FOUND: final, never worth another delivery
        return _reject(_missing_media(upload, key), exc.code, exc.reason)
    etag = head.get("ETag", "").strip('"') or None
    media_id = media_id_for(bucket, key, version_id or etag)
    logger.append_keys(media_id=media_id)
    kind = sniff(first_bytes)
    media = MediaItem(media_id=media_id, bucket=bucket, key=key, version_id=version_id, etag=etag, size=size,
                      media_type=kind.media_type, detected_format=kind.format, source=s3_uri(bucket, key))
    rejected = rejection(size, first_bytes, settings().max_media_bytes)
    if rejected:
        return _reject(media, *rejected)
    # Without an Express state machine (a deployment that has none configured) every item runs Standard.
    workflow = workflows.workflow_for(kind.media_type, kind.format) if settings().express_state_machine_arn \
        else workflows.STANDARD
    created = jobs.create_job(media_id, bucket=bucket, key=key, version=version_id or etag or "",
                              media_type=kind.media_type, owner=jobs.owner_of(key, settings().upload_prefix),
                              workflow=workflow)
    job: dict[str, Any] = {}
    if not created:
        logger.info("duplicate delivery of an upload already recorded")
        metrics.add_metric(name="DuplicateUploads", unit=MetricUnit.Count, value=1)
        job = jobs.get_job(media_id) or {}
        workflow = job.get("workflow", workflows.STANDARD)  # the record's: it was decided on the first delivery
    if workflow == workflows.EXPRESS:
        start_express(replace(media, workflow=workflows.EXPRESS), started=bool(job.get("execution_arn")))
    else:
        start_standard(media)
    return {"media_id": media_id, "status": "STARTED", "media_type": kind.media_type}


def start_standard(media: MediaItem) -> None:
    """The execution named by the media id: Step Functions starts a name once (a duplicate delivery is a no-op)."""
    sfn = client("stepfunctions")
    try:
        sfn.start_execution(stateMachineArn=settings().state_machine_arn, name=media.media_id,
                            input=json.dumps(PipelineState(media=media, steps=Steps()).to_state()))
        metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    except sfn.exceptions.ExecutionAlreadyExists:
        logger.info("execution already exists for this upload")


def start_express(media: MediaItem, *, started: bool) -> None:
    """An Express execution, unless the job record says one was `started`. Express does not deduplicate by name
    (two starts are two executions), so the record does: ingest writes the execution's ARN once it started. Two
    deliveries at the same moment can still both start one (Express is at-least-once; every step is idempotent)."""
    if started:
        logger.info("an Express execution was already started for this upload")
        return
    sfn = client("stepfunctions")
    execution = sfn.start_execution(stateMachineArn=settings().express_state_machine_arn, name=media.media_id,
                                    input=json.dumps(PipelineState(media=media, steps=Steps()).to_state()))
    metrics.add_metric(name="ExecutionsStarted", unit=MetricUnit.Count, value=1)
    jobs.record_execution(media.media_id, execution["executionArn"],
                          execution["startDate"].strftime("%Y-%m-%dT%H:%M:%SZ"))


def _reject(media: MediaItem, code: str, message: str) -> dict[str, Any]:
    logger.warning("upload rejected", extra={"reason_code": code, "reason": message})
    metrics.add_metric(name="UploadsRejected", unit=MetricUnit.Count, value=1)
    recorded = jobs.create_job(media.media_id, bucket=media.bucket, key=media.key,
                               version=media.version_id or media.etag or "",
                               media_type=media.media_type, status="FAILED", error_code=code,
                               owner=jobs.owner_of(media.key, settings().upload_prefix))
    if recorded:
        publish(new_manifest(media, status="FAILED", error={"code": code, "message": message}))
    return {"media_id": media.media_id, "status": "FAILED", "error_code": code}


def record_handler(record: SQSRecord) -> list[dict[str, Any]]:
    return [ingest_upload(upload) for upload in uploads_in(record.json_body)]


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
