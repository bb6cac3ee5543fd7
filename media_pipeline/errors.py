"""Typed failures. Class names are the error names the state machine's Retry and Catch match."""
from __future__ import annotations

import json
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


_THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException", "LimitExceededException",
                     "ProvisionedThroughputExceededException", "RequestLimitExceeded", "SlowDown"}
_UNAVAILABLE_CODES = {"InternalFailureException", "InternalServerError", "InternalServerException",
                      "ServiceUnavailable", "ServiceUnavailableException"}
# A task token whose task is over: Step Functions no longer waits on it.
STALE_TOKEN_CODES = {"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"}


def aws_error(exc: Exception, prefix: str, action: str) -> PipelineError:
    """A failed AWS call as a typed failure: <PREFIX>_THROTTLED and <PREFIX>_UNAVAILABLE are retried by the state
    machine; <PREFIX>_ACCESS_DENIED and <PREFIX>_REQUEST_FAILED are caught into a FAILED manifest."""
    if isinstance(exc, PipelineError):
        return exc
    response = getattr(exc, "response", None) or {}
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    message = f"{action}: {code or type(exc).__name__}: {error.get('Message') or exc}"
    if code in _THROTTLING_CODES:
        return ThrottledError(message, code=f"{prefix}_THROTTLED")
    if code in _UNAVAILABLE_CODES or status >= 500 or not response:  # no response: the connection failed
        return TransientError(message, code=f"{prefix}_UNAVAILABLE")
    if code in ("AccessDeniedException", "AccessDenied"):
        return PipelineError(message, code=f"{prefix}_ACCESS_DENIED")
    return PipelineError(message, code=f"{prefix}_REQUEST_FAILED")


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
        message = str(outer.get("errorMessage") or "")
        try:
            inner = json.loads(message)
        except (TypeError, ValueError):
            inner = None
        if isinstance(inner, dict) and "code" in inner:
            return {"code": str(inner["code"]), "message": str(inner.get("message", ""))}
        return {"code": _code_for(str(outer.get("errorType") or error)), "message": message or error}
    if isinstance(outer, dict) and "code" in outer:
        return {"code": str(outer["code"]), "message": str(outer.get("message", ""))}
    return {"code": _code_for(error), "message": text or error}


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
