"""Limits AWS enforces that moto (or the in-process Lambda runtime) ignores.

Each install_* function here is a workaround listed in the gap table of `moto_gaps` (and docs/local-mode.md);
patches go through `moto_gaps._patch`, so `moto_gaps.uninstall()` restores moto and stops the pollers.

Sources for the figures and shapes emulated:
- Lambda Invoke API reference (docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html): "For synchronous
  invocations, the maximum payload size is 6 MB. For asynchronous invocations, the maximum payload size is 1 MB"
  (it was 256 KB before; InvokeAsync still says 256 KB); a request over it is RequestEntityTooLargeException, 413.
- A function that outlives its timeout answers a synchronous invoke with `X-Amz-Function-Error: Unhandled` and
  {"errorType": "Sandbox.Timedout", "errorMessage": "RequestId: <id> Error: Task timed out after 1.00 seconds"};
  Step Functions takes errorType as the error name, so Retry/Catch match "Sandbox.Timedout".
- Step Functions quotas: 256 KiB (262,144 bytes as UTF-8) for a task's, state's or execution's input or output;
  "Handling errors" (concepts-error-handling): States.DataLimitExceeded is reported when a connector's output,
  a state's output, or a state's input after Parameters is over the quota, and "States.ALL ... can't catch the
  States.DataLimitExceeded terminal error". SendTaskSuccess: `output` has "Maximum length of 262144".
- SQS → Lambda polling: media_pipeline/local/sqs_polling.py.
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
from typing import Any, Callable
from urllib.parse import quote_plus

from media_pipeline.local import moto_gaps, sqs_polling

LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6,291,456: RequestResponse request and response
LAMBDA_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # Event invocations: 1 MB (API_Invoke; 256 KB until 2025)
STATES_PAYLOAD_BYTES = 256 * 1024  # 262,144 bytes of UTF-8, inclusive
RESPONSE_TOO_LARGE = {  # Lambda's own wording, including its odd byte count
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
log = logging.getLogger("media_pipeline.local.emulator")

_enabled: set[str] = set()


def reset() -> None:
    """Forget what was enabled and stop the pollers (moto_gaps.uninstall calls this before restoring moto)."""
    sqs_polling.stop_pollers()
    _enabled.clear()


# --------------------------------------------------------------------------------------------------------------
# Lambda: the configured timeout and the payload quotas.
# --------------------------------------------------------------------------------------------------------------

class LambdaTimeout(Exception):
    """The handler outlived its function's configured timeout."""

    def __init__(self, request_id: str, timeout_seconds: float):
        super().__init__(f"RequestId: {request_id} Error: Task timed out after {timeout_seconds:.2f} seconds")

    def payload(self) -> dict[str, str]:
        return {"errorType": "Sandbox.Timedout", "errorMessage": str(self)}


def run_with_timeout(call: Callable[[], Any], context: Any) -> Any:
    """call() within context.timeout_seconds when timeouts are enforced; raises LambdaTimeout past it.

    The call runs on its own thread, in a copy of the caller's contextvars (per-invocation state such as the
    calling principal set around the call follows it). A thread cannot be killed: after the timeout it runs on
    in the background, so whatever it does afterwards still happens, where Lambda would have stopped the
    sandbox. Tests of timeouts should use handlers whose late effects do not matter.
    """
    if "lambda_timeout" not in _enabled:
        return call()
    outcome: dict[str, Any] = {}
    invocation = contextvars.copy_context()

    def target() -> None:
        try:
            outcome["result"] = invocation.run(call)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the invoking thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, name=f"lambda-{context.function_name}", daemon=True)
    thread.start()
    thread.join(context.timeout_seconds)
    if thread.is_alive():
        raise LambdaTimeout(context.aws_request_id, context.timeout_seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("result")


def _too_large(limit: int) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("RequestEntityTooLargeException",
                          f"Request must be smaller than {limit} bytes for the InvokeFunction operation")
    error.code = 413
    return error


def _invoke(self: Any) -> tuple[int, dict[str, str], str | bytes]:
    """moto's LambdaResponse.invoke with Lambda's quotas: the request is checked before the function runs, the
    response after (moto compared sys.getsizeof with 6,000,000 and had no request limit)."""
    from urllib.parse import unquote

    invocation_type = self.headers.get("X-Amz-Invocation-Type") or "RequestResponse"
    limit = LAMBDA_ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else LAMBDA_SYNC_PAYLOAD_BYTES
    body = self.body if isinstance(self.body, bytes) else (self.body or "").encode()
    if len(body) > limit:
        raise _too_large(limit)
    response_headers: dict[str, str] = {}
    function_name = unquote(self.path.rsplit("/", 2)[-2])
    payload = self.backend.invoke(function_name, self._get_param("qualifier"), self.body, self.headers,
                                  response_headers)
    if payload is None:
        return 404, response_headers, "{}"
    if invocation_type == "RequestResponse" and len(payload) > LAMBDA_SYNC_PAYLOAD_BYTES:
        payload = json.dumps(RESPONSE_TOO_LARGE).encode()
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["Content-Length"] = str(len(payload))
    response_headers["content-type"] = "application/json"
    if invocation_type == "Event":
        return 202, {**response_headers, "status": "202"}, payload
    if invocation_type == "DryRun":
        return 204, {**response_headers, "status": "204"}, payload
    if self.headers.get("X-Amz-Log-Type") != "Tail":
        response_headers.pop("x-amz-log-result", None)
    return 200, response_headers, payload


def install_lambda_limits() -> None:
    """Invoke as Lambda limits it: a handler past its function's Timeout fails with Sandbox.Timedout (see
    run_with_timeout); a request over 6 MB (1 MB for InvocationType Event) is refused with
    RequestEntityTooLargeException (413) before the function runs; a response over 6 MB becomes the
    Function.ResponseSizeTooLarge function error."""
    from moto.awslambda.responses import LambdaResponse

    _enabled.add("lambda_timeout")
    moto_gaps._patch(LambdaResponse, "invoke", _invoke)


# --------------------------------------------------------------------------------------------------------------
# Step Functions: 256 KB for state input and output, results and callbacks.
# --------------------------------------------------------------------------------------------------------------

def _utf8_size(value: Any) -> int:
    from moto.stepfunctions.parser.asl.utils.encoding import to_json_str

    return len((value if isinstance(value, str) else to_json_str(value)).encode("utf-8"))


def is_within_size_quota(value: Any) -> bool:
    """262,144 bytes are allowed (moto's engine refused a payload of exactly the quota)."""
    return _utf8_size(value) <= STATES_PAYLOAD_BYTES


def _validation_error(message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError("ValidationException", message)
    error.code = 400
    return error


def install_state_limits() -> None:
    """Step Functions' payload quota where moto's engine misses it, and States.ALL as AWS documents it.

    moto's engine already fails a state whose output (or a task whose result) is over 256 KB with
    States.DataLimitExceeded. Added here: the exact quota (262,144 bytes allowed), a Task's input after
    Parameters, the aggregated result of a Map or Parallel state before ResultSelector/ResultPath, SendTaskSuccess
    refusing an `output` over the quota (ValidationException, the answer to a breached length constraint), and
    States.ALL not matching States.DataLimitExceeded in Retry or Catch (naming it explicitly still does).
    """
    from moto.stepfunctions.parser import quotas
    from moto.stepfunctions.parser.asl.component.common.error_name.error_equals_decl import ErrorEqualsDecl
    from moto.stepfunctions.parser.asl.component.state import state
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap
    from moto.stepfunctions.parser.asl.component.state.exec.state_parallel.state_parallel import StateParallel
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_lambda
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.state_task import StateTask
    from moto.stepfunctions.responses import StepFunctionResponse

    for module in (quotas, state, state_task_lambda, state_task_service):
        moto_gaps._patch(module, "is_within_size_quota", is_within_size_quota)

    def checked_parameters(original: Callable[..., dict]) -> Callable[..., dict]:
        def eval_parameters(self: Any, env: Any) -> dict:
            parameters = original(self, env)
            state.CommonStateField._verify_size_quota(self, env, parameters)  # the state's input after Parameters
            return parameters
        return eval_parameters

    for task_class in (StateTask, state_task_lambda.StateTaskLambda):
        original = task_class.__dict__["_eval_parameters"]
        moto_gaps._patch(task_class, "_eval_parameters", checked_parameters(original))

    def checked_result(original: Callable[..., None]) -> Callable[..., None]:
        def eval_execution(self: Any, env: Any) -> None:
            original(self, env)
            state.CommonStateField._verify_size_quota(self, env, env.stack[-1])  # the aggregated result
        return eval_execution

    for aggregate in (StateMap, StateParallel):
        moto_gaps._patch(aggregate, "_eval_execution", checked_result(aggregate.__dict__["_eval_execution"]))

    error_equals = ErrorEqualsDecl.__dict__["_eval_body"]
    data_limit = ErrorEqualsDecl._STATE_ALL_ERROR.__class__(typ=_data_limit_type())

    def eval_error_equals(self: Any, env: Any) -> None:
        error_name = env.stack[-1]
        if error_name == data_limit and data_limit not in self.error_names:
            env.stack.pop()
            env.stack.append(False)  # a terminal error: only a retrier or catcher naming it matches
            return
        error_equals(self, env)

    moto_gaps._patch(ErrorEqualsDecl, "_eval_body", eval_error_equals)

    send_task_success = StepFunctionResponse.__dict__["send_task_success"]

    def send_task_success_checked(self: Any) -> Any:
        output = self._get_param("output")
        if output is not None and len(str(output).encode("utf-8")) > STATES_PAYLOAD_BYTES:
            raise _validation_error("1 validation error detected: Value at 'output' failed to satisfy constraint: "
                                    f"Member must have length less than or equal to {STATES_PAYLOAD_BYTES}")
        return send_task_success(self)

    moto_gaps._patch(StepFunctionResponse, "send_task_success", send_task_success_checked)


def _data_limit_type() -> Any:
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )

    return StatesErrorNameType.StatesStatesDataLimitExceeded


# --------------------------------------------------------------------------------------------------------------
# S3 → EventBridge: object keys encoded as S3 encodes them in notifications.
# --------------------------------------------------------------------------------------------------------------

def encode_key(key: str) -> str:
    """An object key as S3 writes it in an event: space → '+', '+' → '%2B', non-ASCII and reserved characters
    percent-encoded, '/' kept."""
    return quote_plus(key, safe="/")


class _EncodedKey:
    """moto's key object with the name an S3 event carries."""

    def __init__(self, key: Any):
        self._key = key
        self.name = encode_key(key.name)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._key, attr)


def install_s3_event_keys() -> None:
    """S3's "Object Created" events on EventBridge carry the key URL-encoded, as S3 notifications do (moto puts
    the raw key there, so a consumer that forgets to decode works locally and fails on AWS)."""
    from moto.s3 import notifications

    send = notifications.__dict__["_send_event_bridge_message"]

    def send_encoded(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        send(account_id, bucket, event_name, _EncodedKey(key))

    moto_gaps._patch(notifications, "_send_event_bridge_message", send_encoded)


def install_limits(*, poll_seconds: float = sqs_polling.POLL_SECONDS) -> None:
    """Every limit and the polling event source mappings (the local runtime's entry point)."""
    install_lambda_limits()
    install_state_limits()
    install_s3_event_keys()
    sqs_polling.install_sqs_polling(poll_seconds)


__all__ = [
    "LAMBDA_ASYNC_PAYLOAD_BYTES", "LAMBDA_SYNC_PAYLOAD_BYTES", "LambdaTimeout", "STATES_PAYLOAD_BYTES",
    "encode_key", "install_lambda_limits", "install_limits", "install_s3_event_keys", "install_state_limits", "reset",
    "run_with_timeout",
]
