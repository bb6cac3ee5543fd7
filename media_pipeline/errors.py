"""Typed failures. Class names are the error names the state machine's Retry and Catch match."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class PipelineError(Exception):
    """A failure with a machine-readable reason code; its message is JSON so the code survives Lambda."""

    code = "PIPELINE_ERROR"

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        self.code = code or type(self).code
        self.reason = message
        self.details = details or {}
        super().__init__(json.dumps({"code": self.code, "message": message, **({"details": self.details} if self.details else {})}))

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.reason}


class MediaRejected(PipelineError):
    """The input itself cannot be processed (empty, unsupported, too large, corrupt). Never retried."""

    code = "MEDIA_REJECTED"


class ServiceJobFailed(PipelineError):
    """An AI service job (Transcribe, Textract) finished as FAILED."""

    code = "SERVICE_JOB_FAILED"


class EnrichmentFailed(PipelineError):
    """The model's answer could not be used (invalid JSON, schema mismatch)."""

    code = "ENRICHMENT_FAILED"


class ThrottledError(PipelineError):
    """A service throttled us; the state machine retries with backoff and jitter."""

    code = "THROTTLED"


class TransientError(PipelineError):
    """A passing fault (timeouts, 5xx); the state machine retries."""

    code = "TRANSIENT"


# AWS error codes by what they mean, for every service; each service adds its own below (AwsService).
THROTTLING_CODES = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException",
                              "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown"})
UNAVAILABLE_CODES = frozenset({"InternalFailureException", "InternalServerError", "InternalServerException",
                               "ServiceUnavailable", "ServiceUnavailableException"})
ACCESS_DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
# A task token whose task is over: Step Functions no longer waits on it.
STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


@dataclass(frozen=True)
class AwsService:
    """How one service's failed calls read as reason codes: <PREFIX>_THROTTLED and <PREFIX>_UNAVAILABLE (retried by
    the state machine), <PREFIX>_REJECTED (the input was refused), <PREFIX>_ACCESS_DENIED, <PREFIX>_REQUEST_FAILED."""

    prefix: str
    label: str = ""  # starts each message, e.g. "Textract "
    throttling: frozenset[str] = frozenset()  # the service's own codes, beyond THROTTLING_CODES
    unavailable: frozenset[str] = frozenset()  # beyond UNAVAILABLE_CODES
    rejecting: frozenset[str] = frozenset()  # the input itself was refused: MediaRejected, never retried
    named: frozenset[str] = frozenset()  # reported under their own name: ValidationException -> <PREFIX>_VALIDATION
    failure: type[PipelineError] = PipelineError  # the class of a failure that is not retried


STATES = AwsService("STATES")
TRANSCRIBE = AwsService("TRANSCRIBE")
TEXTRACT = AwsService("TEXTRACT", "Textract ", rejecting=frozenset({
    "UnsupportedDocumentException", "BadDocumentException", "DocumentTooLargeException", "InvalidS3ObjectException",
    "InvalidParameterException"}))
BEDROCK = AwsService("BEDROCK", "Bedrock ", throttling=frozenset({"ServiceQuotaExceededException", "ModelNotReadyException"}),
                     unavailable=frozenset({"ModelTimeoutException"}),
                     named=frozenset({"ResourceNotFoundException", "ValidationException"}), failure=EnrichmentFailed)


def error_parts(exc: Exception) -> tuple[str, str, int]:
    """(error code, message, HTTP status) of a botocore error; empty for an error that carries no response."""
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    return str(error.get("Code", "")), str(error.get("Message", "")), status


def is_stale_token(exc: Exception) -> bool:
    """Whether a SendTask* call failed because the task is over (timed out, or its execution is gone)."""
    return error_parts(exc)[0] in STALE_TOKEN_CODES


def _connection_failed(exc: Exception) -> bool:
    from botocore.exceptions import ConnectionError as EndpointUnreachable, HTTPClientError

    return isinstance(exc, (EndpointUnreachable, HTTPClientError, ConnectionError, TimeoutError))


def aws_error(exc: Exception, service: AwsService, action: str) -> PipelineError:
    """The one mapping of a failed AWS call to a typed failure with a reason code (see AwsService)."""
    if isinstance(exc, PipelineError):
        return exc
    code, text, status = error_parts(exc)
    message = f"{service.label}{action}: {code or type(exc).__name__}: {text or exc}"
    if code in THROTTLING_CODES or code in service.throttling:
        return ThrottledError(message, code=f"{service.prefix}_THROTTLED")
    if code in UNAVAILABLE_CODES or code in service.unavailable or status >= 500 or _connection_failed(exc):
        return TransientError(message, code=f"{service.prefix}_UNAVAILABLE")
    if code in service.rejecting:
        return MediaRejected(message, code=f"{service.prefix}_REJECTED")
    if code in ACCESS_DENIED_CODES:
        return service.failure(message, code=f"{service.prefix}_ACCESS_DENIED")
    if code in service.named:
        return service.failure(message, code=f"{service.prefix}_{_code_for(code.removesuffix('Exception'))}")
    return service.failure(message, code=f"{service.prefix}_REQUEST_FAILED")


# Reading an upload: S3's codes name the object. A HEAD response has no body, so botocore names its error by the
# HTTP status ("404", "403").
S3_MISSING_CODES = frozenset({"NoSuchKey", "NotFound", "404", "NoSuchVersion"})
# With a VersionId: a malformed id ("400", InvalidArgument) or a delete marker (405) is a version that is not there.
S3_MISSING_VERSION_CODES = frozenset({"400", "InvalidArgument", "405", "MethodNotAllowed"})
S3_FORBIDDEN_CODES = frozenset({"403", "Forbidden"}) | ACCESS_DENIED_CODES
# Words of a 403 that name a real permission problem rather than a key S3 will not say is missing.
_DENIAL_MARKERS = ("kms", "s3:getobject")


def upload_read_error(exc: Exception, bucket: str, key: str, version_id: str | None = None) -> PipelineError:
    """A failed read of an upload (HeadObject, GetObject, a copy's source) as a reason code about the object.

    - missing key or version (404, NoSuchKey, NoSuchVersion; with a version id also 400 and 405) → OBJECT_NOT_FOUND;
    - 403: S3 answers 403, not 404, for a missing key when the caller may not s3:ListBucket, and a HEAD's 403
      carries no message, so a 403 is OBJECT_NOT_FOUND ("does not exist or cannot be read") unless its message
      names a real denial (KMS, s3:GetObject or s3:GetObjectVersion) → OBJECT_ACCESS_DENIED;
    - throttling → S3_THROTTLED (ThrottledError); anything else → S3_READ_FAILED (TransientError): both retried.
    """
    if isinstance(exc, PipelineError):
        return exc
    code, text, status = error_parts(exc)
    where = f"s3://{bucket}/{key}" + (f" (version {version_id})" if version_id else "")
    missing = S3_MISSING_CODES | (S3_MISSING_VERSION_CODES if version_id else frozenset())
    if code in missing or status == 404:
        return MediaRejected(f"{where} does not exist: it was deleted before it could be read", code="OBJECT_NOT_FOUND")
    if code in S3_FORBIDDEN_CODES or status == 403:
        if any(marker in text.lower() for marker in _DENIAL_MARKERS):
            return PipelineError(f"access to {where} was denied: {text}", code="OBJECT_ACCESS_DENIED")
        return MediaRejected(f"{where} does not exist or cannot be read (S3 answers 403 for a missing key when the "
                             "caller may not list the bucket)", code="OBJECT_NOT_FOUND")
    if code in THROTTLING_CODES or code == "503" or status == 503:
        return ThrottledError(f"S3 throttled reading {where}: {code}", code="S3_THROTTLED")
    return TransientError(f"reading {where} failed: {code or type(exc).__name__}: {text or exc}",
                          code="S3_READ_FAILED")


_STATES_ERRORS = {
    "States.Timeout": "TIMEOUT",
    "States.HeartbeatTimeout": "TIMEOUT",
    "States.TaskFailed": "TASK_FAILED",
    "States.Permissions": "PERMISSIONS",
    "States.DataLimitExceeded": "PAYLOAD_TOO_LARGE",
    "States.Runtime": "STATE_MACHINE_RUNTIME",
    "Lambda.Unknown": "FUNCTION_CRASHED",
}


def error_from_state(error: str | None, cause: str | None) -> dict[str, str]:
    """Turn a Catch payload ({"Error", "Cause"}) into {"code", "message"}.

    Lambda failures put {"errorMessage", "errorType"} in Cause, and our errorMessage is JSON with the code;
    task-token failures (SendTaskFailure) carry the code as Error and the message as Cause.
    """
    error = error or "UNKNOWN"
    text = cause or ""
    try:
        outer = json.loads(text) if text else {}
    except (TypeError, ValueError):
        outer = {}
    if isinstance(outer, dict) and "errorMessage" in outer:
        return _from_lambda_error(outer, error)
    if isinstance(outer, dict) and "code" in outer:
        return {"code": str(outer["code"]), "message": str(outer.get("message", ""))}
    return {"code": _code_for(error), "message": text or error}


def _from_lambda_error(outer: dict[str, Any], error: str) -> dict[str, str]:
    """A Lambda failure's {"errorMessage", "errorType"}: our errorMessage is JSON with the code."""
    message = str(outer.get("errorMessage") or "")
    try:
        inner = json.loads(message)
    except (TypeError, ValueError):
        inner = None
    if isinstance(inner, dict) and "code" in inner:
        return {"code": str(inner["code"]), "message": str(inner.get("message", ""))}
    return {"code": _code_for(str(outer.get("errorType") or error)), "message": message or error}


def _code_for(name: str) -> str:
    if name in _STATES_ERRORS:
        return _STATES_ERRORS[name]
    if name.isupper() or "_" in name and name.upper() == name:
        return name
    # CamelCase exception names become UPPER_SNAKE_CASE codes.
    out = []
    for i, ch in enumerate(name.replace(".", "_")):
        if ch.isupper() and i and name[i - 1].islower():
            out.append("_")
        out.append(ch.upper())
    return "".join(out)
