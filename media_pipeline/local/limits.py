"""Limits AWS enforces that moto (or the in-process Lambda runtime) ignores, and SQS → Lambda as Lambda polls.

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
- Lambda with SQS: batches of up to BatchSize, the queue's visibility timeout, ReportBatchItemFailures
  (only the listed messages stay; an unhandled error or a timeout keeps the whole batch), and the queue's
  RedrivePolicy moves a message to the DLQ once its receive count passes maxReceiveCount.
"""
from __future__ import annotations

import contextvars
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import quote_plus

from media_pipeline.local import moto_gaps

LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024  # 6,291,456: RequestResponse request and response
LAMBDA_ASYNC_PAYLOAD_BYTES = 1024 * 1024  # Event invocations: 1 MB (API_Invoke; 256 KB until 2025)
STATES_PAYLOAD_BYTES = 256 * 1024  # 262,144 bytes of UTF-8, inclusive
RESPONSE_TOO_LARGE = {  # Lambda's own wording, including its odd byte count
    "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
    "errorType": "Function.ResponseSizeTooLarge",
}
POLL_SECONDS = 0.1

log = logging.getLogger("media_pipeline.local.emulator")

_enabled: set[str] = set()


def reset() -> None:
    """Forget what was enabled and stop the pollers (moto_gaps.uninstall calls this before restoring moto)."""
    stop_pollers()
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


# --------------------------------------------------------------------------------------------------------------
# SQS → Lambda: an event source mapping that polls, as Lambda's does.
# --------------------------------------------------------------------------------------------------------------

@dataclass
class _Poller:
    account: str
    region: str
    mapping_id: str
    interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    busy: bool = False
    thread: threading.Thread | None = None


_pollers: dict[str, _Poller] = {}
_queue_lock = threading.RLock()


def _lambda_backend(account: str, region: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account, region)


def _queue_of(account: str, region: str, arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region].get_queue(arn.rsplit(":", 1)[-1])


def _record(message: Any, queue: Any) -> dict[str, Any]:
    """The SQS event record Lambda builds for a received message."""
    attributes = {"ApproximateReceiveCount": str(message.approximate_receive_count),
                  "SentTimestamp": str(message.sent_timestamp), "SenderId": str(message.sender_id),
                  "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp)}
    if message.group_id:
        attributes.update(MessageGroupId=message.group_id, MessageDeduplicationId=message.deduplication_id or "")
    return {"messageId": message.id, "receiptHandle": message.receipt_handle, "body": message.body,
            "attributes": attributes, "messageAttributes": message.message_attributes or {},
            "md5OfBody": message.body_md5, "eventSource": "aws:sqs", "eventSourceARN": queue.queue_arn,
            "awsRegion": queue.region}


def failed_message_ids(payload: bytes, batch: list[str]) -> set[str]:
    """The messages a ReportBatchItemFailures response keeps in the queue. No list (or an empty one) is a
    success; a response Lambda cannot read, or an identifier that is empty or not in the batch, fails it all."""
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return set(batch)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    return set(batch) if not ids <= set(batch) else ids


def _deliver_batch(mapping: Any, queue: Any, messages: list[Any]) -> None:
    from moto.sqs.models import sqs_backends

    event = {"Records": [_record(m, queue) for m in messages]}
    response_headers: dict[str, Any] = {}
    payload = _lambda_backend(mapping.account_id, mapping.region).invoke(
        mapping.function_arn, None, json.dumps(event), {}, response_headers)
    if "x-amz-function-error" in response_headers:
        return  # an unhandled error or a timeout: the whole batch comes back after the visibility timeout
    keep = set()
    if "ReportBatchItemFailures" in (mapping.function_response_types or []):
        keep = failed_message_ids(payload if isinstance(payload, bytes) else str(payload).encode(),
                                  [m.id for m in messages])
    backend = sqs_backends[mapping.account_id][mapping.region]
    for message in messages:
        if message.id not in keep:
            backend.delete_message(queue.name, message.receipt_handle)


def _poll_once(poller: _Poller) -> bool:
    """One receive and delivery; False when there was nothing to receive."""
    from moto.sqs.models import sqs_backends

    mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings.get(poller.mapping_id)
    if mapping is None:
        poller.stop.set()  # the mapping was deleted
        return False
    if not mapping.enabled:
        return False
    queue = _queue_of(poller.account, poller.region, mapping.event_source_arn)
    poller.busy = True
    try:
        messages = sqs_backends[poller.account][poller.region].receive_message(
            queue.name, int(mapping.batch_size or 10), 0, int(queue.visibility_timeout))
        if messages:
            _deliver_batch(mapping, queue, messages)
        return bool(messages)
    finally:
        poller.busy = False


def _poll(poller: _Poller) -> None:
    while not poller.stop.is_set():
        try:
            if _poll_once(poller):
                continue
        except Exception:  # noqa: BLE001 - the poller keeps polling, as Lambda's does
            log.exception("event source mapping %s could not poll", poller.mapping_id)
        _wait_for_message(poller)


def _wait_for_message(poller: _Poller) -> None:
    """Sleep until a message is sent (moto notifies) or the interval passes (a message may become visible)."""
    try:
        mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings[poller.mapping_id]
        condition = _queue_of(poller.account, poller.region, mapping.event_source_arn)._messages_lock
    except Exception:  # noqa: BLE001 - gone: the next poll stops
        poller.stop.wait(poller.interval)
        return
    with condition:
        condition.wait(poller.interval)


def _start_poller(mapping: Any, interval: float) -> None:
    if mapping.event_source_arn.split(":")[2] != "sqs" or mapping.uuid in _pollers:
        return
    poller = _Poller(mapping.account_id, mapping.region, mapping.uuid, interval)
    poller.thread = threading.Thread(target=_poll, args=(poller,), name=f"esm-{mapping.uuid[:8]}", daemon=True)
    _pollers[mapping.uuid] = poller
    poller.thread.start()


def stop_pollers(timeout: float = 5.0) -> None:
    """Stop every poller and wait for a batch in delivery to finish."""
    stopping = list(_pollers.values())
    _pollers.clear()
    for poller in stopping:
        poller.stop.set()
    deadline = time.monotonic() + timeout
    for poller in stopping:
        if poller.thread is not None and poller.thread is not threading.current_thread():
            poller.thread.join(max(0.0, deadline - time.monotonic()))


def pollers_idle() -> bool:
    """No batch in delivery and no visible message waiting in a polled queue."""
    for poller in list(_pollers.values()):
        if poller.busy:
            return False
        try:
            mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings[poller.mapping_id]
            if mapping.enabled and _queue_of(poller.account, poller.region, mapping.event_source_arn).messages:
                return False
        except Exception:  # noqa: BLE001 - a mapping or queue that is gone has nothing waiting
            continue
    return True


def install_sqs_polling(poll_seconds: float = POLL_SECONDS) -> None:
    """SQS event source mappings poll their queue on a thread each, as Lambda does, instead of moto's delivery
    inside SendMessage (synchronous, one message a batch, failures ignored, nothing ever redelivered).

    Up to BatchSize messages are received with the queue's VisibilityTimeout and passed to the function in one
    SQS event; with FunctionResponseTypes ReportBatchItemFailures only the messages not listed in
    batchItemFailures are deleted; an unhandled error (a timeout included) deletes none. Messages not deleted
    come back after the visibility timeout, and moto's ReceiveMessage moves a message whose receive count
    reached the RedrivePolicy's maxReceiveCount to the dead-letter queue. A new message wakes the poller at
    once; otherwise it looks again every poll_seconds.
    """
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue

    add_message = Queue.__dict__["add_message"]

    def add_without_delivery(self: Any, message: Any) -> None:
        with _queue_lock:  # moto delivers to the mappings it finds on the queue: it finds none
            mappings = self.lambda_event_source_mappings
            self.lambda_event_source_mappings = {}
            try:
                add_message(self, message)
            finally:
                self.lambda_event_source_mappings = mappings

    moto_gaps._patch(Queue, "add_message", add_without_delivery)

    create_mapping = LambdaBackend.__dict__["create_event_source_mapping"]

    def create_and_poll(self: Any, spec: dict[str, Any]) -> Any:
        with _queue_lock:
            mapping = create_mapping(self, spec)
        _start_poller(mapping, poll_seconds)
        return mapping

    moto_gaps._patch(LambdaBackend, "create_event_source_mapping", create_and_poll)
    for backend in _existing_lambda_backends():
        for mapping in list(backend._event_source_mappings.values()):
            _start_poller(mapping, poll_seconds)


def _existing_lambda_backends() -> list[Any]:
    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends

    found = []
    for backends in (lambda_backends, lambda_simple_backends):
        for account in list(backends.keys()):
            found.extend(backends[account][region] for region in list(backends[account].keys()))
    return found


def install_limits(*, poll_seconds: float = POLL_SECONDS) -> None:
    """Every limit and the polling event source mappings (the local runtime's entry point)."""
    install_lambda_limits()
    install_state_limits()
    install_s3_event_keys()
    install_sqs_polling(poll_seconds)


__all__ = [
    "LAMBDA_ASYNC_PAYLOAD_BYTES", "LAMBDA_SYNC_PAYLOAD_BYTES", "LambdaTimeout", "STATES_PAYLOAD_BYTES",
    "encode_key", "failed_message_ids", "install_lambda_limits", "install_limits", "install_s3_event_keys",
    "install_sqs_polling", "install_state_limits", "pollers_idle", "reset", "run_with_timeout", "stop_pollers",
]
