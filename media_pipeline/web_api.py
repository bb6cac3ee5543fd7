"""The web API: upload, list, read, delete and reprocess one's own media items (docs/web.md).

The routes are Powertools' `APIGatewayHttpResolver`; `functions/api/handler.py` resolves API Gateway's events
with it and `media-pipeline serve` (media_pipeline/cli/serve.py) resolves the same events locally. API Gateway's
JWT authorizer has already checked the caller's Cognito token: the caller is the token's `sub` claim, and every
route reaches only the items whose owner is that `sub`. The owner is recorded at ingest from the upload's key
(`uploads/<sub>/<file>`), which the presigned POST's policy fixes; another user's item answers 404, as a missing
one does.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import time
from typing import Any
from urllib.parse import urlparse

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError, UnauthorizedError

from media_pipeline import jobs
from media_pipeline.aws import client
from media_pipeline.ids import media_id_for
from media_pipeline.reason_words import manifest_problems, plain_words
from media_pipeline.settings import settings

# What the page may upload: the content types a browser names for the media the pipeline takes (the pipeline
# still decides by content; this only keeps other files from being uploaded at all).
ALLOWED_CONTENT_TYPES = (
    "audio/mpeg", "audio/mp3", "audio/wav", "audio/x-wav", "audio/wave", "audio/flac", "audio/x-flac", "audio/ogg",
    "audio/mp4", "audio/x-m4a", "audio/aac", "audio/webm", "audio/amr",
    "video/mp4", "video/quicktime", "video/webm", "video/x-matroska", "video/ogg",
    "application/pdf", "image/png", "image/jpeg", "image/tiff",
)
UPLOAD_SECONDS = 900      # a presigned POST is valid this long
LINK_SECONDS = 300        # download links (results, the upload for the player) expire after this long
PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
FINAL = ("SUCCEEDED", "FAILED")

app = APIGatewayHttpResolver()


# ---- the caller -----------------------------------------------------------------------------------------------

def caller() -> str:
    """The `sub` of the token API Gateway's JWT authorizer accepted (serve's authorizer sets the same claims)."""
    claims = app.current_event.request_context.authorizer.jwt_claim or {}
    sub = claims.get("sub")
    if not sub or not jobs.OWNER.fullmatch(sub):
        raise UnauthorizedError("no authenticated user")
    return sub


def _owned_job(media_id: str, sub: str) -> dict[str, str]:
    if not re.fullmatch(r"[0-9a-f]{32}", media_id):
        raise NotFoundError("no such item")
    job = _job(media_id)
    if job is None or job.get("owner") != sub:
        raise NotFoundError("no such item")  # another user's item is as missing as one that never was
    return job


# ---- the jobs table and the manifests -------------------------------------------------------------------------

def _plain(item: dict[str, Any]) -> dict[str, str]:
    return {name: next(iter(value.values())) for name, value in item.items()}


def _job(media_id: str) -> dict[str, str] | None:
    item = client("dynamodb").get_item(TableName=settings().jobs_table, Key=jobs.job_key(media_id),
                                       ConsistentRead=True).get("Item")
    return _plain(item) if item else None


def _owner_jobs(sub: str, *, limit: int, start_key: dict[str, Any] | None) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"TableName": settings().jobs_table, "IndexName": jobs.OWNER_INDEX,
                              "KeyConditionExpression": "#o = :o", "ExpressionAttributeNames": {"#o": "owner"},
                              "ExpressionAttributeValues": {":o": {"S": sub}}, "ScanIndexForward": False,
                              "Limit": limit}
    if start_key:
        kwargs["ExclusiveStartKey"] = start_key
    page = client("dynamodb").query(**kwargs)
    return {"items": [_plain(item) for item in page.get("Items", [])], "next": page.get("LastEvaluatedKey")}


def _manifest(job: dict[str, str]) -> dict[str, Any] | None:
    if not job.get("manifest_key"):
        return None
    body = client("s3").get_object(Bucket=settings().media_bucket, Key=job["manifest_key"])["Body"].read()
    return json.loads(body)


# ---- POST /uploads --------------------------------------------------------------------------------------------

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str) -> str:
    name = _UNSAFE.sub("-", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]).strip(".-")[:120]
    return name or "upload"


def presigned_upload(sub: str, filename: str, content_type: str) -> dict[str, Any]:
    """A presigned POST for one file: the key (in the caller's folder), the size range and the content type are
    conditions of the signed policy, so S3 itself refuses anything else."""
    if content_type not in ALLOWED_CONTENT_TYPES:
        raise BadRequestError(f"content type {content_type!r} is not accepted; accepted: {', '.join(ALLOWED_CONTENT_TYPES)}")
    s = settings()
    key = f"{s.upload_prefix}{sub}/{int(time.time())}-{safe_name(filename)}"
    post = client("s3").generate_presigned_post(
        Bucket=s.media_bucket, Key=key, Fields={"Content-Type": content_type},
        Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, s.max_media_bytes]],
        ExpiresIn=UPLOAD_SECONDS)
    return {"url": post["url"], "fields": post["fields"], "key": key, "max_bytes": s.max_media_bytes,
            "expires_in": UPLOAD_SECONDS}


@app.post("/uploads")
def post_upload() -> Response:
    body = app.current_event.json_body or {}
    filename, content_type = body.get("filename"), body.get("content_type")
    if not isinstance(filename, str) or not isinstance(content_type, str):
        raise BadRequestError("send {\"filename\": ..., \"content_type\": ...}")
    size = body.get("size")
    if isinstance(size, int) and not 0 < size <= settings().max_media_bytes:
        raise BadRequestError(f"the file must have between 1 and {settings().max_media_bytes} bytes")
    return Response(201, "application/json", json.dumps(presigned_upload(caller(), filename, content_type)))


# ---- GET /items -----------------------------------------------------------------------------------------------

def _summary(job: dict[str, str]) -> dict[str, Any]:
    key = job.get("key", "")
    name = key.rsplit("/", 1)[-1]
    return {"media_id": job["media_id"], "name": re.sub(r"^\d+-", "", name), "key": key, "media_type": job.get("media_type"),
            "status": job.get("status"), "error_code": job.get("error_code"), "created_at": job.get("created_at"),
            "updated_at": job.get("updated_at")}


def _token(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def _start_key(token: str | None, sub: str) -> dict[str, Any] | None:
    if not token:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        raise BadRequestError("the page token is not valid") from exc
    if not isinstance(key, dict) or key.get("owner", {}).get("S") != sub:
        raise BadRequestError("the page token is not valid")
    return key


def list_items(sub: str, *, limit: int = PAGE_SIZE, token: str | None = None) -> dict[str, Any]:
    """The caller's items, newest first, from the table's owner index."""
    page = _owner_jobs(sub, limit=limit, start_key=_start_key(token, sub))
    items = []
    for job in page["items"]:  # live progress for the items still running
        item = _summary(job)
        item["current_step"] = None if item["status"] in FINAL else current_step(job)
        items.append(item)
    return {"items": items, "next": _token(page.get("next"))}


@app.get("/items")
def get_items() -> dict[str, Any]:
    params = app.current_event.query_string_parameters or {}
    try:
        limit = min(max(int(params.get("limit", PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError as exc:
        raise BadRequestError("limit must be a number") from exc
    return list_items(caller(), limit=limit, token=params.get("next"))


# ---- GET /items/{id} ------------------------------------------------------------------------------------------

def current_step(job: dict[str, str]) -> str | None:
    """The state the item's execution entered last (the execution history, newest first). An item of the Express
    workflow has no history to read (its steps take seconds): None, the page shows its status."""
    s = settings()
    if not s.state_machine_arn or job.get("workflow") == "express":
        return None
    arn = s.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job['media_id']}"
    sfn = client("stepfunctions")
    try:
        events = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=50)["events"]
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    for event in events:
        if event["type"].endswith("StateEntered"):
            return event["stateEnteredEventDetails"]["name"]
    return None


def _link(bucket: str, key: str, version_id: str | None = None) -> str:
    params = {"Bucket": bucket, "Key": key, **({"VersionId": version_id} if version_id else {})}
    return client("s3").generate_presigned_url("get_object", Params=params, ExpiresIn=LINK_SECONDS)


def download_links(media_id: str, manifest: dict[str, Any]) -> dict[str, str]:
    """Short-lived links to the item's result files (only those under its own results folder)."""
    s = settings()
    folder = f"{s.results_prefix}{media_id}/"
    links = {}
    for name, uri in (manifest.get("artifacts") or {}).items():
        parsed = urlparse(str(uri))
        key = parsed.path.lstrip("/")
        if parsed.scheme == "s3" and parsed.netloc == s.media_bucket and key.startswith(folder):
            links[name] = _link(s.media_bucket, key)
    return links


def item_view(media_id: str, sub: str) -> dict[str, Any]:
    job = _owned_job(media_id, sub)
    view: dict[str, Any] = {**_summary(job), "current_step": None, "manifest": None, "links": {},
                            "media_url": None, "error": None, "warnings": [], "link_seconds": LINK_SECONDS}
    if job.get("status") not in FINAL:
        view["current_step"] = current_step(job)
        return view
    manifest = _manifest(job)
    if manifest is not None:
        view["manifest"] = manifest
        view["links"] = download_links(media_id, manifest)
        view.update(manifest_problems(manifest))
    elif job.get("error_code"):
        view["error"] = plain_words({"code": job["error_code"]})
    if job.get("status") == "SUCCEEDED" and job.get("media_type") in ("audio", "video", "image"):
        view["media_url"] = _link(job["bucket"], job["key"], job.get("version") or None)
    return view


@app.get("/items/<media_id>")
def get_item(media_id: str) -> dict[str, Any]:
    return item_view(media_id, caller())


# ---- DELETE /items/{id}, POST /items/{id}/reprocess ------------------------------------------------------------

def delete_item(media_id: str, sub: str) -> None:
    """The upload's version, every version of the item's results, then the job record (last, so a failure part way
    leaves the item listed and the delete can be repeated)."""
    job = _owned_job(media_id, sub)
    if job.get("status") not in FINAL:
        raise ConflictError("the item is still being processed; delete it once it has finished")
    s3, s = client("s3"), settings()
    if job.get("version"):
        s3.delete_object(Bucket=job["bucket"], Key=job["key"], VersionId=job["version"])
    prefix = f"{s.results_prefix}{media_id}/"
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=s.media_bucket, Prefix=prefix):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=s.media_bucket, Key=entry["Key"], VersionId=entry["VersionId"])
    client("dynamodb").delete_item(TableName=settings().jobs_table, Key=jobs.job_key(media_id))


@app.delete("/items/<media_id>")
def delete_item_route(media_id: str) -> Response:
    delete_item(media_id, caller())
    return Response(204, "application/json", "")


def reprocess(media_id: str, sub: str) -> dict[str, Any]:
    """A new version of the same upload (a copy onto itself): the same event path starts a new item."""
    job = _owned_job(media_id, sub)
    if job.get("status") not in FINAL:
        raise ConflictError("the item is still being processed")
    source = {"Bucket": job["bucket"], "Key": job["key"], **({"VersionId": job["version"]} if job.get("version") else {})}
    copied = client("s3").copy_object(Bucket=job["bucket"], Key=job["key"], CopySource=source,
                                      MetadataDirective="REPLACE", Metadata={"reprocess-of": media_id})
    version = copied.get("VersionId") or copied["CopyObjectResult"]["ETag"].strip('"')
    return {"media_id": media_id_for(job["bucket"], job["key"], version), "reprocess_of": media_id}


@app.post("/items/<media_id>/reprocess")
def reprocess_route(media_id: str) -> Response:
    return Response(202, "application/json", json.dumps(reprocess(media_id, caller())))


class ConflictError(Exception):
    """The request conflicts with the item's state (409)."""


@app.exception_handler(ConflictError)
def conflict(exc: ConflictError) -> Response:
    return Response(409, "application/json", json.dumps({"statusCode": 409, "message": str(exc)}))


def handle(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
