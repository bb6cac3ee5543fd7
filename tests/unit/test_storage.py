"""The mapping of a failed S3 read of an upload to a reason code (media_pipeline.errors.upload_read_error)."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from media_pipeline.errors import MediaRejected, PipelineError, ThrottledError, TransientError, upload_read_error
from media_pipeline.storage import reading_upload

WHERE = "s3://media-bucket/uploads/a.mp4"
NOT_LISTABLE = (f"{WHERE} does not exist or cannot be read (S3 answers 403 for a missing key when the caller may "
                "not list the bucket)")


def s3_error(code: str, status: int, message: str = "", operation: str = "GetObject") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


def mapped(exc: Exception, version_id: str | None = None) -> PipelineError:
    return upload_read_error(exc, "media-bucket", "uploads/a.mp4", version_id)


@pytest.mark.parametrize("exc", [
    s3_error("404", 404, "Not Found", "HeadObject"),
    s3_error("NoSuchKey", 404, "The specified key does not exist."),
    s3_error("NoSuchVersion", 404, "The specified version does not exist."),
])
def test_a_missing_key_or_version_is_object_not_found(exc):
    error = mapped(exc)
    assert isinstance(error, MediaRejected)  # never retried
    assert error.as_dict() == {"code": "OBJECT_NOT_FOUND",
                               "message": f"{WHERE} does not exist: it was deleted before it could be read"}


@pytest.mark.parametrize("exc", [
    s3_error("403", 403, "Forbidden", "HeadObject"),  # a HEAD has no body: all S3 says is 403
    s3_error("AccessDenied", 403, "Access Denied"),
    s3_error("AccessDenied", 403, "User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: "
                                  "s3:ListBucket on resource: \"arn:aws:s3:::media-bucket\" because no identity-based "
                                  "policy allows the s3:ListBucket action"),
])
def test_a_403_without_list_bucket_is_object_not_found(exc):
    error = mapped(exc)
    assert isinstance(error, MediaRejected)
    assert error.as_dict() == {"code": "OBJECT_NOT_FOUND", "message": NOT_LISTABLE}


@pytest.mark.parametrize("message", [
    "User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: kms:Decrypt on the resource "
    "associated with this ciphertext because no identity-based policy allows the kms:Decrypt action",
    "User: arn:aws:sts::123456789012:assumed-role/fn/x is not authorized to perform: s3:GetObject on resource: "
    "\"arn:aws:s3:::media-bucket/uploads/a.mp4\" with an explicit deny in a resource-based policy",
])
def test_a_403_that_names_a_denied_permission_is_an_access_problem(message):
    error = mapped(s3_error("AccessDenied", 403, message))
    assert type(error) is PipelineError  # caught into a FAILED manifest, not retried
    assert error.code == "OBJECT_ACCESS_DENIED" and error.reason == f"access to {WHERE} was denied: {message}"


@pytest.mark.parametrize("code, status", [("400", 400), ("InvalidArgument", 400), ("405", 405)])
def test_a_version_s3_refuses_is_object_not_found(code, status):
    error = mapped(s3_error(code, status, operation="HeadObject"), version_id="v1")
    assert error.code == "OBJECT_NOT_FOUND" and "(version v1)" in error.reason
    assert mapped(s3_error(code, status, operation="HeadObject")).code == "S3_READ_FAILED"  # no version: not that


def test_throttling_and_server_errors_are_retried():
    throttled = mapped(s3_error("SlowDown", 503, "Please reduce your request rate."))
    assert isinstance(throttled, ThrottledError) and throttled.code == "S3_THROTTLED"
    failed = mapped(s3_error("InternalError", 500, "We encountered an internal error."))
    assert isinstance(failed, TransientError) and failed.code == "S3_READ_FAILED"
    assert "InternalError: We encountered an internal error." in failed.reason


def test_reading_upload_types_every_boto_error():
    with pytest.raises(TransientError) as caught:
        with reading_upload("media-bucket", "uploads/a.mp4"):
            raise EndpointConnectionError(endpoint_url="https://s3.amazonaws.com")
    assert caught.value.code == "S3_READ_FAILED"
    with pytest.raises(MediaRejected) as caught:
        with reading_upload("media-bucket", "uploads/a.mp4", "v9"):
            raise s3_error("403", 403, "Forbidden", "HeadObject")
    assert caught.value.code == "OBJECT_NOT_FOUND" and "(version v9)" in caught.value.reason
