"""S3 reads and writes, and where each result lives."""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any, Callable, Iterator

from media_pipeline.aws import client
from media_pipeline.errors import upload_read_error
from media_pipeline.settings import settings


def results_key(media_id: str, name: str) -> str:
    return f"{settings().results_prefix}{media_id}/{name}"


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


@contextlib.contextmanager
def reading_upload(bucket: str, key: str, version_id: str | None = None) -> Iterator[None]:
    """Around every S3 read of an upload: boto errors leave as the typed failure `errors.upload_read_error` names."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise upload_read_error(exc, bucket, key, version_id) from exc


def version_args(version_id: str | None) -> dict[str, str]:
    return {"VersionId": version_id} if version_id else {}


def head_upload(bucket: str, key: str, version_id: str | None = None) -> dict[str, Any]:
    """HeadObject of an upload (the pinned version when given); failures are typed by `upload_read_error`."""
    with reading_upload(bucket, key, version_id):
        return client("s3").head_object(Bucket=bucket, Key=key, **version_args(version_id))


def read_head(bucket: str, key: str, size: int, version_id: str | None = None) -> bytes:
    if size <= 0:
        return b""
    with reading_upload(bucket, key, version_id):
        response = client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{size - 1}",
                                           **version_args(version_id))
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


def upload_file(path: str | Path, bucket: str, key: str, content_type: str,
                progress: Callable[[], None] | None = None) -> str:
    """A file on disk to S3, multipart, read part by part: memory is bounded by chunk size x concurrency.

    `progress` (optional) is called as bytes go out, so a watchdog can tell a slow upload from a stalled one.
    """
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=16 * 1024 * 1024, multipart_chunksize=16 * 1024 * 1024,
                            max_concurrency=2, use_threads=True)
    callback = (lambda _bytes: progress()) if progress is not None else None
    client("s3").upload_file(str(path), bucket, key, ExtraArgs={"ContentType": content_type}, Config=config,
                             Callback=callback)
    return key


class StreamedUpload:
    """Writes one S3 object from pieces without holding it: parts of PART_BYTES go up as a multipart upload.

    A result smaller than one part is written with a single PutObject; an exception aborts the upload.
    """

    PART_BYTES = 8 * 1024 * 1024

    def __init__(self, bucket: str, key: str, content_type: str = "application/json"):
        self.bucket, self.key, self.content_type = bucket, key, content_type
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    def write(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) >= self.PART_BYTES:
            self._upload_part()

    def _upload_part(self) -> None:
        s3 = client("s3")
        if self.upload_id is None:
            self.upload_id = s3.create_multipart_upload(Bucket=self.bucket, Key=self.key,
                                                        ContentType=self.content_type)["UploadId"]
        number = len(self.parts) + 1
        etag = s3.upload_part(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id, PartNumber=number,
                              Body=bytes(self.buffer))["ETag"]
        self.parts.append({"ETag": etag, "PartNumber": number})
        self.buffer.clear()

    def __enter__(self) -> "StreamedUpload":
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        s3 = client("s3")
        if exc_type is not None:
            if self.upload_id:
                s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id)
            return
        if self.upload_id is None:
            s3.put_object(Bucket=self.bucket, Key=self.key, Body=bytes(self.buffer), ContentType=self.content_type)
            return
        if self.buffer:
            self._upload_part()
        s3.complete_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self.upload_id,
                                     MultipartUpload={"Parts": self.parts})
