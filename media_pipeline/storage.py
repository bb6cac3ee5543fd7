"""S3 reads and writes, and where each result lives."""
from __future__ import annotations

import json
from typing import Any

from media_pipeline.aws import client
from media_pipeline.settings import settings


def results_key(media_id: str, name: str) -> str:
    return f"{settings().results_prefix}{media_id}/{name}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def read_head(bucket: str, key: str, size: int, version_id: str | None = None) -> bytes:
    if size <= 0:
        return b""
    extra = {"VersionId": version_id} if version_id else {}
    response = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}", **extra)
    return response["Body"].read()


def read_bytes(bucket: str, key: str) -> bytes:
    return client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()


def read_text(bucket: str, key: str) -> str:
    return read_bytes(bucket, key).decode("utf-8")


def read_json(bucket: str, key: str) -> Any:
    return json.loads(read_bytes(bucket, key))


def write_bytes(bucket: str, key: str, body: bytes, content_type: str) -> str:
    client("s3").put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return key


def write_text(bucket: str, key: str, text: str, content_type: str = "text/plain; charset=utf-8") -> str:
    return write_bytes(bucket, key, text.encode("utf-8"), content_type)


def write_json(bucket: str, key: str, value: Any) -> str:
    body = json.dumps(value, ensure_ascii=False, indent=2).encode("utf-8")
    return write_bytes(bucket, key, body, "application/json")
