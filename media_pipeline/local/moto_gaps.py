"""Every workaround for a gap in moto lives in this module, so the rest of the project talks to an emulator that
behaves like AWS. moto is pinned (MOTO_VERSION); tests/local/test_moto_gaps.py checks, for each gap, that plain
moto still has it and that the workaround closes it, so an upgrade that fixes a gap upstream is noticed.

The gaps and what is done about them (docs/local-mode.md has the same table):

| gap in moto                                                     | workaround                                             |
|-----------------------------------------------------------------|--------------------------------------------------------|
| Lambda Invoke without Docker only echoes the payload            | `install_lambda_runtime`: registered Python handlers   |
| EventBridge rules cannot target Lambda or Step Functions        | `install_event_delivery`: both delivered               |
| A DISABLED EventBridge rule still delivers every match          | `install_event_delivery`: a disabled rule delivers none|
| Transcribe writes no transcript and emits no event              | `install_ai_engines(transcribe=...)`                   |
| Textract answers with no blocks; ignores JobTag, idempotency    | `install_ai_engines(textract=...)`                     |
| bedrock-runtime has no Converse                                 | `install_ai_engines(bedrock=...)`                      |
| Comprehend has no DetectDominantLanguage (NotImplementedError)  | `install_ai_engines(comprehend_language=...)`          |
| Comprehend DetectPiiEntities returns a fixed answer (whatever   | `install_ai_engines(comprehend_pii=...)`; the same     |
| the text); Transcribe ignores ContentRedaction (and accepts it  | detector redacts the emulated Transcribe's transcript; |
| with language identification or any language)                  | redaction only for en-US/es-US, without identification |
| Step Functions' ECS integration passes ASL-cased parameters     | `install_task_runner`: parameters mapped to the API    |
| ECS RunTask records a task but runs nothing                     | `install_task_runner`: a registered runner is started  |
| Step Functions in a moto server calls localhost:$MOTO_PORT      | `start_server` sets MOTO_PORT to the server's port     |
| A server keeps the last one's resources (backends per process)  | `start_server` resets moto's backends first            |
| SendTaskFailure drops its cause                                 | `install_task_callbacks`: the cause reaches the state  |
| Lambda handlers run without their configured Timeout            | `limits.install_lambda_limits`: Sandbox.Timedout       |
| A failed asynchronous invocation is not retried                 | `install_lambda_runtime`: retried per EventInvokeConfig|
|                                                                 | (default 2, about 1 and 2 min apart), then its record  |
|                                                                 | goes to an SQS on-failure destination, else dropped    |
| Invoke has no 6 MB request limit (1 MB async); the response     | `limits.install_lambda_limits`: 413 before the run,    |
| limit is checked with sys.getsizeof against 6,000,000           | Function.ResponseSizeTooLarge past 6,291,456 bytes     |
| Step Functions: 262,144 bytes refused, no check of a Task's     | `limits.install_state_limits`: States.DataLimitExceeded|
| input after Parameters or a Map/Parallel result, States.ALL     | there too, not matched by States.ALL; SendTaskSuccess  |
| catches DataLimitExceeded, SendTaskSuccess takes any output     | output over 262,144 bytes is a ValidationException     |
| SQS event source mappings deliver inside SendMessage, one       | `sqs_polling.install_sqs_polling`: a poller per        |
| message a batch, ignore batchItemFailures, never redeliver      | mapping, batches, visibility timeout, partial failures |
| S3's EventBridge events carry the key unencoded                 | `limits.install_s3_event_keys`: encoded as S3 does     |
| No quotas: every request is served however many arrive         | `install_capacity`: rate quotas and seeded faults       |
|                                                                 | answered in the service's protocol; Transcribe QUEUED   |
|                                                                 | (deferred execution), Textract and Lambda refusals      |
| StopExecution leaves a task-token wait RUNNING, then FAILED     | `install_stop_execution`: interrupted, ABORTED          |
| No "Step Functions Execution Status Change" events              | `install_execution_events`: put on the default bus      |
| EXPRESS runs as STANDARD: `execution:` ARNs, names deduplicated,| `install_express_executions`: `express:` ARNs, no      |
| Describe/GetHistory/List/StopExecution answer, events sent      | dedup, those calls refused as AWS does, no events      |
| Schedule rules never fire; a patternless rule matches any event | `install_schedules`: rate() rules fire, nothing else    |
| SQS has no StartMessageMoveTask / ListMessageMoveTasks (DLQ     | `install_message_move_tasks`: a DLQ's messages moved   |
| redrive): NotImplementedError                                   | back on a thread; tasks listed with their counts       |
| No IAM: every caller may do anything (and a missing key is 404) | `iam.install` + `install_principals`: each call is     |
|                                                                 | authorized as its role from the synthesized template;  |
|                                                                 | deliveries need the target's Lambda/queue permission   |
| S3 POST uploads: no policy, signature, expiry or condition      | `install_post_policy`: checked as S3 does, and the     |
| check (any key, any size, even without a policy)                | signer's role needs s3:PutObject on the key            |
| Presigned URLs never expire                                     | `install_presigned_url_expiry`: 403 once expired       |
| Distributed Map: the parser rejects ItemBatcher, Tolerated-     | `install_distributed_map`: batches, tolerance, result  |
| FailurePercentage/Count, ExecutionType EXPRESS; the first failed| files as AWS writes them; the children need            |
| child fails the run; ResultWriter lists no result file; no IAM  | StartExecution/DescribeExecution/StopExecution; every  |
| check for the children; ItemReader listObjectsV2 reads the first|                                                        |
| page only (1,000 objects), fails on an empty prefix, gives      | page listed, items as AWS lists them (`Etag`, epoch    |
| boto3's shape (`ETag`, a datetime: not JSON)                    | `LastModified`)                                        |
| Speed (no answer changes): Step Functions builds a boto3 client | `install_speedups`: one client kept per service and    |
| per call and parses the ASL per execution; GetExecutionHistory  | region, the parsed program per definition (heap keys   |
| walks the model for every member of every event; the server    | set atomically), the history written directly, the     |
| lists moto's folder per request; werkzeug closes every          | list kept; table writes wake waiters;                  |
| connection (a TCP connection and a thread per request);         | `install_direct_requests`: in-process callers skip the |
| botocore builds a ServiceModel and a class for every client     | socket; clients of one session share the ServiceModel  |
| (each emulated Lambda sandbox has its own clients)              | and class per service (`share_client_models`)          |
|                                                                 | (tests/local/test_moto_gaps_speed.py)                  |

Everything here patches moto's models or response classes (never the pipeline's handlers), so the code that runs
in AWS runs unchanged against the emulator. Each install_* call is idempotent; `uninstall()` restores moto.
"""
from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import os
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from media_pipeline.local import iam, iam_policy

MOTO_VERSION = "5.2.5"

# The moto configuration the pipeline needs: ASL executed for real, Lambda without Docker.
MOTO_CONFIG: dict[str, Any] = {
    "stepfunctions": {"execute_state_machine": True},
    "lambda": {"use_docker": False},
}

LambdaHandler = Callable[[dict[str, Any], Any], Any]
TranscribeEngine = Callable[[bytes, "str | None"], dict[str, Any]]
TextractEngine = Callable[[bytes], list[dict[str, Any]]]
BedrockEngine = Callable[[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]], str]
ComprehendLanguageEngine = Callable[[str], dict[str, Any]]
ComprehendPiiEngine = Callable[[str, str], dict[str, Any]]  # (text, language code) -> {"Entities": [...]}
COMPREHEND_PII_LANGUAGES = ("en", "es")
# Comprehend's limit for DetectDominantLanguage ("100 KB" of UTF-8), read as the pipeline reads it.
COMPREHEND_MAX_TEXT_BYTES = 100_000
TaskRunner = Callable[[dict[str, str]], Any]

log = logging.getLogger("media_pipeline.local.emulator")

_lock = threading.RLock()
_MISSING = object()
# (id(owner), attr) -> (owner, attr, the owner's own attribute or _MISSING, the attribute as resolved before)
_patches: dict[tuple[int, str], tuple[Any, str, Any, Any]] = {}
_handlers: dict[str, LambdaHandler] = {}
_engines: dict[str, Callable[..., Any]] = {}
_task_runners: dict[str, TaskRunner] = {}
_threads: list[threading.Thread] = []


def _patch(owner: Any, attr: str, replacement: Any) -> Any:
    """Replace owner.attr once; returns moto's original."""
    with _lock:
        key = (id(owner), attr)
        if key not in _patches:
            _patches[key] = (owner, attr, owner.__dict__.get(attr, _MISSING), getattr(owner, attr, None))
            setattr(owner, attr, replacement)
        return _patches[key][3]


def uninstall() -> None:
    """Restore moto's own code and forget handlers, engines and runners (tests show the gaps this way)."""
    from media_pipeline.local import limits

    limits.reset()  # the pollers stop before the code they call is restored
    from media_pipeline.local import quotas

    quotas.reset()
    if _schedules.get("stop") is not None:
        _schedules.pop("stop").set()
    with _lock:
        for owner, attr, own, _ in _patches.values():
            if own is _MISSING:
                delattr(owner, attr)
            else:
                setattr(owner, attr, own)
        _patches.clear()
        _programs.clear()
        _sfn_clients.clear()
        _handlers.clear()
        _sandboxes.clear()
        for timer in _retry_timers:
            timer.cancel()
        _retry_timers.clear()
        _engines.clear()
        _task_runners.clear()


def wait_for_background_work(timeout: float = 60.0) -> None:
    """Join the worker threads started for asynchronous services and let the SQS pollers deliver the messages
    that are due (tests; a clean shutdown)."""
    from media_pipeline.local import sqs_polling

    deadline = time.monotonic() + timeout
    while True:
        with _lock:
            alive = [t for t in _threads if t.is_alive()]
            _threads[:] = alive
        if not alive:
            if sqs_polling.pollers_idle() or time.monotonic() >= deadline:
                return
            time.sleep(0.02)
            continue
        alive[0].join(max(0.0, deadline - time.monotonic()))
        if time.monotonic() >= deadline:
            return


def _background(name: str, target: Callable[[], None]) -> None:
    """AWS does this work asynchronously: so does the emulator, on a daemon thread that logs what it cannot raise."""

    def run() -> None:
        try:
            target()
        except Exception:  # noqa: BLE001 - nobody to raise to; AWS would log it too
            log.exception("background work %s failed", name)

    thread = threading.Thread(target=run, name=f"emulator-{name}", daemon=True)
    with _lock:
        _threads.append(thread)
    thread.start()


def _iso(value: Any) -> str:
    if isinstance(value, (int, float)):
        value = _dt.datetime.fromtimestamp(float(value), tz=_dt.timezone.utc)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


# --------------------------------------------------------------------------------------------------------------
# Lambda: registered Python handlers run in this process behind Invoke.
# --------------------------------------------------------------------------------------------------------------

@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int = 128
    function_version: str = "$LATEST"
    timeout_seconds: float = 3.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = ""
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def lambda_error_payload(exc: BaseException) -> dict[str, Any]:
    """The body Lambda returns for an unhandled exception; Step Functions reads errorType as the error name."""
    return {"errorMessage": str(exc), "errorType": type(exc).__name__,
            "stackTrace": traceback.format_tb(exc.__traceback__)}


_sandboxes: dict[str, list[dict[Any, Any]]] = {}  # per function: the idle sandboxes' client caches


def _call_handler(fn: Any, handler: LambdaHandler, event: Any, context: LambdaContext) -> Any:
    """The one call of a registered handler: what scopes an invocation wraps it here (it may run on a thread).

    Each invocation runs in a sandbox of its function, one invocation at a time, warm ones reused, as Lambda does:
    here a sandbox is its own set of AWS clients (media_pipeline.aws.sandbox_clients)."""
    from media_pipeline import aws

    with _lock:
        idle = _sandboxes.setdefault(fn.function_name, [])
        sandbox = idle.pop() if idle else {}
    try:
        with iam.acting_as(fn.role), aws.sandbox_clients(sandbox):  # the function's execution role makes its calls
            return handler(event, context)
    finally:
        with _lock:
            _sandboxes.setdefault(fn.function_name, []).append(sandbox)


def _run_handler(fn: Any, handler: LambdaHandler, event: Any) -> tuple[bytes, bool]:
    """(payload, errored) for one invocation of a registered handler."""
    context = LambdaContext(
        function_name=fn.function_name, invoked_function_arn=fn.function_arn,
        memory_limit_in_mb=int(fn.memory_size or 128), timeout_seconds=float(fn.timeout or 3),
        log_group_name=f"/aws/lambda/{fn.function_name}",
        log_stream_name=f"{_dt.date.today():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}")
    from media_pipeline.local import limits

    try:
        init = getattr(handler, "init", None)
        if init is not None:  # Lambda's INIT (the function's imports) is not part of the invocation's timeout
            handler = init()
        result = limits.run_with_timeout(lambda: _call_handler(fn, handler, event, context), context)
    except limits.LambdaTimeout as timeout:
        log.info("function %s timed out after %.2f s", fn.function_name, context.timeout_seconds)
        return json.dumps(timeout.payload()).encode(), True
    except Exception as exc:  # noqa: BLE001 - an unhandled error is the function's result, as in Lambda
        log.info("function %s raised %s: %s", fn.function_name, type(exc).__name__, exc)
        return json.dumps(lambda_error_payload(exc)).encode(), True
    try:
        return json.dumps(result).encode(), False
    except (TypeError, ValueError) as exc:
        body = {"errorMessage": f"Unable to marshal response: {exc}", "errorType": "Runtime.MarshalError"}
        return json.dumps(body).encode(), True


# Lambda's retries of a failed asynchronous invocation: by default two, about 1 and then 2 minutes later.
ASYNC_RETRY_DELAYS = (60.0, 120.0)
_DEFAULT_EVENT_AGE = 21600  # seconds: 6 hours, Lambda's default MaximumEventAgeInSeconds
_retry_timers: set[threading.Timer] = set()


def _async_config(fn: Any) -> tuple[int, float, str | None]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds, on-failure destination ARN) of fn's EventInvokeConfig, or
    Lambda's defaults (2, 6 hours, none) without one."""
    configs = getattr(fn, "event_invoke_config", None) or []
    config = configs[0].config if configs else {}
    retries = int(config.get("MaximumRetryAttempts", len(ASYNC_RETRY_DELAYS)))
    age = float(config.get("MaximumEventAgeInSeconds", _DEFAULT_EVENT_AGE))
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    return min(retries, len(ASYNC_RETRY_DELAYS)), age, destination


def _run_asynchronously(fn: Any, handler: LambdaHandler, event: Any, attempts: int = 0,
                        received: float | None = None) -> None:
    """An asynchronous invocation as Lambda runs it: an error (the handler's, or its timeout) is retried up to
    MaximumRetryAttempts times (ASYNC_RETRY_DELAYS apart, on a timer: nothing waits for it) while the event is
    younger than MaximumEventAgeInSeconds; then the invocation record goes to the on-failure destination (an SQS
    queue the function's role may send to), or is dropped and logged."""
    retries, max_age, destination = _async_config(fn)
    received = time.monotonic() if received is None else received
    payload, errored = _run_handler(fn, handler, event)
    attempts += 1
    if not errored:
        return
    if attempts > retries:
        _send_to_failure_destination(fn, event, payload, "RetriesExhausted", attempts, destination)
        return
    delay = ASYNC_RETRY_DELAYS[attempts - 1]
    if time.monotonic() - received + delay > max_age:
        _send_to_failure_destination(fn, event, payload, "EventAgeExceeded", attempts, destination)
        return
    log.info("function %s failed (attempt %d); Lambda retries in %.0f s", fn.function_name, attempts, delay)

    def retry() -> None:
        with _lock:
            _retry_timers.discard(timer)
        _background(f"lambda-{fn.function_name}-retry",
                    lambda: _run_asynchronously(fn, handler, event, attempts, received))

    timer = threading.Timer(delay, retry)
    timer.daemon = True
    with _lock:
        _retry_timers.add(timer)
    timer.start()


def _send_to_failure_destination(fn: Any, event: Any, payload: bytes, condition: str, attempts: int,
                                 destination: str | None) -> None:
    record = {
        "version": "1.0", "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds"),
        "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": f"{fn.function_arn}:$LATEST",
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": json.loads(payload or b"null"),
    }
    if not destination or destination.split(":")[2] != "sqs":
        log.warning("function %s failed %d time(s) (%s); the event is dropped: %s", fn.function_name, attempts,
                    condition, payload[:500].decode(errors="replace"))
        return
    from moto.sqs.models import sqs_backends

    if not iam.service_may(fn.role, "lambda.amazonaws.com", iam_policy.Request("sqs:SendMessage", destination)):
        log.warning("function %s: its role may not send to %s; the failed event is dropped", fn.function_name,
                    destination)
        return
    _, _, _, region, account, queue = destination.split(":", 5)
    sqs_backends[account][region].send_message(queue, json.dumps(record))


def _invoke_registered(fn: Any, body: Any, headers: Any, response_headers: dict[str, Any]) -> bytes | None:
    """Run fn's registered handler; None when no handler is registered for it (moto's own behaviour applies)."""
    handler = _handlers.get(fn.function_name)
    if handler is None:
        return None
    event = json.loads(body) if isinstance(body, (str, bytes)) and body else (body or {})
    invocation_type = {str(k).lower(): v for k, v in dict(headers or {}).items()}.get(
        "x-amz-invocation-type", "RequestResponse")
    if invocation_type == "Event":  # accepted now, run later, retried as Lambda retries it
        _background(f"lambda-{fn.function_name}", lambda: _run_asynchronously(fn, handler, event))
        return b""
    if invocation_type == "DryRun":
        return b""
    from media_pipeline.local import quotas

    if not quotas.lambda_started():
        error = _service_error("TooManyRequestsException", "Rate Exceeded.")
        error.code = 429
        raise error
    try:
        payload, errored = _run_handler(fn, handler, event)
    finally:
        quotas.lambda_finished()
    if errored:
        response_headers["x-amz-function-error"] = "Unhandled"
    return payload


def install_lambda_runtime(handlers: Mapping[str, LambdaHandler]) -> None:
    """Invoking a function whose NAME is registered runs its handler in this process, as Lambda would run it.

    Handlers get the event and a LambdaContext; their JSON result is the payload. An unhandled exception gives
    `X-Amz-Function-Error: Unhandled` with {"errorMessage", "errorType", "stackTrace"}, so Retry/Catch in the
    state machine match the exception's class name. InvocationType Event runs the handler on a background
    thread. Functions must exist in the emulated account (create_function) so that names and ARNs resolve.
    Covers Invoke, SQS event source mappings, SNS subscriptions and S3 notifications (they all reach the
    function through moto's LambdaFunction.invoke or LambdaBackend.invoke).
    """
    from moto.awslambda.models import LambdaFunction
    from moto.awslambda_simple.models import LambdaSimpleBackend

    _handlers.update(handlers)

    function_invoke = _patch(LambdaFunction, "invoke", None)

    def invoke_function(self: Any, body: Any, request_headers: Any, response_headers: Any) -> Any:
        payload = _invoke_registered(self, body, request_headers, response_headers)
        return function_invoke(self, body, request_headers, response_headers) if payload is None else payload

    LambdaFunction.invoke = invoke_function  # type: ignore[method-assign]

    simple_invoke = _patch(LambdaSimpleBackend, "invoke", None)

    def invoke_simple(self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any,
                      response_headers: Any) -> Any:
        fn = self.get_function(function_name, qualifier)
        if fn.function_name not in _handlers:
            return simple_invoke(self, function_name, qualifier, body, headers, response_headers)
        payload = fn.invoke(body, headers, response_headers)
        response_headers["Content-Length"] = str(len(payload))
        return payload

    LambdaSimpleBackend.invoke = invoke_simple  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# Step Functions callbacks: SendTaskFailure keeps its cause.
# --------------------------------------------------------------------------------------------------------------

def install_task_callbacks() -> None:
    """SendTaskFailure passes `cause` to the waiting state (moto's response handler drops it, so a Catch saw
    `"Cause": null` and the reason of a failed Transcribe or Textract job was lost)."""
    from moto.core.responses import ActionResult, EmptyResult
    from moto.stepfunctions.responses import StepFunctionResponse

    def send_task_failure(self: Any) -> ActionResult:
        self.stepfunction_backend.send_task_failure(self._get_param("taskToken"), error=self._get_param("error"),
                                                    cause=self._get_param("cause"))
        return EmptyResult()

    _patch(StepFunctionResponse, "send_task_failure", send_task_failure)


# --------------------------------------------------------------------------------------------------------------
# EventBridge: rules deliver to Lambda functions and state machines.
# --------------------------------------------------------------------------------------------------------------

def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a target receives: the whole event, unless the target says otherwise (Input or InputTransformer)."""
    if target.get("Input"):
        return json.loads(target["Input"])
    transformer = target.get("InputTransformer")
    if transformer:
        from moto.events.utils import EventTemplateParser

        return EventTemplateParser.parse(input_template=transformer.get("InputTemplate"),
                                         input_paths_map=transformer.get("InputPathsMap", {}), event=event)
    return event


def _deliver(account: str, region: str, arn: str, payload: Any) -> None:
    service = arn.split(":")[2]
    if service == "lambda":
        from moto.awslambda.utils import get_backend

        response_headers: dict[str, Any] = {}
        get_backend(account, region).invoke(arn, None, json.dumps(payload), {"X-Amz-Invocation-Type": "Event"},
                                            response_headers)
    elif service == "states":
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        target_region = arn.split(":")[3]
        stepfunctions_parser_backends[account][target_region].start_execution(
            arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))


def install_event_delivery() -> None:
    """EventBridge rules deliver matching events to Lambda functions (asynchronous invocation, as in AWS) and
    start executions of Step Functions state machines. Other targets stay with moto.

    Without this, moto raises NotImplementedError for such a target: PutEvents fails, and S3's EventBridge
    notifications silently stop at the first rule that has one (S3 swallows the error), so an upload rule
    whose SQS target comes after such a rule never sees the event.
    """
    import copy

    from moto.events.models import Rule

    send_to_targets = _patch(Rule, "send_to_targets", None)

    def deliver(self: Any, original_event: dict[str, Any], transform_input: bool = True) -> None:
        if self.state != "ENABLED":  # a disabled rule matches nothing (moto delivers anyway)
            return
        if getattr(self, "scheduled_expression", None) and not self.event_pattern.get_pattern():
            # A schedule rule receives its own "Scheduled Event" only; moto's empty pattern would match every event.
            if self.arn not in (original_event.get("resources") or []):
                return
        elif not self.event_pattern.matches_event(original_event):
            return
        # EventBridge may deliver to a function or a queue only if the resource's own policy lets this rule do so.
        allowed = [t for t in self.targets if t["Arn"].split(":")[2] not in ("lambda", "sqs")
                   or iam.service_may_deliver("events.amazonaws.com", self.arn, _DELIVERY_ACTIONS[t["Arn"].split(":")[2]],
                                              t["Arn"])]
        ours = [t for t in allowed if t["Arn"].split(":")[2] in ("lambda", "states")]
        others = [t for t in allowed if t not in ours]
        if others:
            rule = copy.copy(self)
            rule.targets = others
            send_to_targets(rule, original_event, transform_input)
        if ours:
            event = copy.deepcopy(original_event)
            event["time"] = _iso(event.get("time") or time.time())
            event.setdefault("account", self.account_id)
            event.pop("ingestion-time", None)
            for target in ours:
                try:
                    _deliver(self.account_id, self.region_name, target["Arn"], _target_input(target, event))
                except Exception:  # noqa: BLE001 - EventBridge retries and then drops; it never fails PutEvents
                    log.exception("EventBridge could not deliver to %s", target["Arn"])

    Rule.send_to_targets = deliver  # type: ignore[method-assign]
    _install_sns_delivery_check()


_DELIVERY_ACTIONS = {"lambda": "lambda:InvokeFunction", "sqs": "sqs:SendMessage"}


def _install_sns_delivery_check() -> None:
    """SNS invokes a subscribed function only if the function's policy lets the topic do so (a Lambda permission)."""
    from moto.sns.models import Subscription

    publish = _patch(Subscription, "publish", None)

    def publish_checked(self: Any, message: str, message_id: str, *args: Any, **kwargs: Any) -> None:
        if self.protocol == "lambda" and not iam.service_may_deliver(
                "sns.amazonaws.com", self.topic.arn, "lambda:InvokeFunction", self.endpoint):
            log.warning("SNS may not invoke %s for %s: no Lambda permission", self.endpoint, self.topic.arn)
            return
        publish(self, message, message_id, *args, **kwargs)

    Subscription.publish = publish_checked  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# AI services: Transcribe, Textract and Bedrock answered by pluggable engines.
# --------------------------------------------------------------------------------------------------------------

def _s3_location(uri: str) -> tuple[str, str]:
    """(bucket, key) from s3://bucket/key or an https S3 URL."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.lstrip("/")
    host, path = parsed.netloc, unquote(parsed.path.lstrip("/"))
    if host.startswith("s3.") or host.startswith("s3-"):
        bucket, _, key = path.partition("/")
        return bucket, key
    return host.split(".s3", 1)[0], path


def _s3(account: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account]["aws"]


def _read_object(account: str, bucket: str, key: str) -> bytes:
    found = _s3(account).get_object(bucket, key)
    if found is None:
        raise FileNotFoundError(f"s3://{bucket}/{key} does not exist")
    return bytes(found.value)


def _pin_status(model: Any, status: str) -> None:
    """moto's ManagedState advances a job's status whenever it is read; the emulator decides it instead."""
    model._transitions = [(status, status)]
    model._status = status


def quotas_module() -> Any:
    from media_pipeline.local import quotas

    return quotas


def _concurrent_jobs(service: str) -> Any:
    """The concurrent-job quota of an emulated service, when quotas are installed (install_capacity)."""
    capacity = quotas_module().current()
    return getattr(capacity, service) if capacity is not None else None


def _last_at_least(seconds: float, work: Callable[[], None]) -> None:
    """Run an emulated job's work after `seconds` (Quotas.min_job_seconds: fast engines in a burst)."""
    if seconds > 0:
        time.sleep(seconds)
    work()


class EngineError(Exception):
    """An engine's refusal, reported as the service would (`code` is the service's error code)."""

    def __init__(self, message: str, code: str = "UnsupportedDocumentException"):
        super().__init__(message)
        self.code = code


def _output_keys(job: Any, name: str) -> tuple[str, str | None]:
    """Where Transcribe writes the job's JSON, and its redacted copy (beside it, its file name prefixed with
    `redacted-`, as Transcribe documents it) when the job asked for content redaction."""
    out_key = job.output_key or f"{name}.json"
    if out_key.endswith("/"):
        out_key += f"{name}.json"
    if not (getattr(job, "content_redaction", None) or {}).get("RedactionOutput"):
        return out_key, None
    folder, _, file_name = out_key.rpartition("/")
    return out_key, f"{folder}/redacted-{file_name}" if folder else f"redacted-{file_name}"


def _pii_detector(text: str) -> list[dict[str, Any]]:
    engine = _engines.get("comprehend_pii")
    if engine is None:
        from media_pipeline.local.engines.pii import detect_pii_entities as engine
    return list(engine(text, "en").get("Entities") or []) if text.strip() else []


def _write_transcription(account: str, region: str, job: Any, output: dict[str, Any], name: str) -> None:
    """The job's JSON (and its redacted copy) in the output bucket, and their addresses on the job."""
    from media_pipeline.local.engines.transcript_redaction import redact_transcript

    bucket, (key, redacted_key) = job._output_bucket_name, _output_keys(job, name)
    redaction = (getattr(job, "content_redaction", None) or {}).get("RedactionOutput")
    if bucket and redacted_key:
        _s3(account).put_object(bucket, redacted_key, json.dumps(redact_transcript(output, _pii_detector)).encode())
    if bucket and redaction != "redacted":  # the unredacted copy only with redacted_and_unredacted
        _s3(account).put_object(bucket, key, json.dumps(output).encode())
    url = f"https://s3.{region}.amazonaws.com/{bucket}"
    job.transcript = {"TranscriptFileUri": f"{url}/{key}"}
    if redacted_key:
        job.transcript["RedactedTranscriptFileUri"] = f"{url}/{redacted_key}"


def _run_transcription(backend: Any, job: Any) -> None:
    from moto.events.models import events_backends

    account, region = backend.account_id, backend.region_name
    name = job.transcription_job_name
    try:
        _last_at_least(quotas_module().min_job_seconds(), lambda: _transcribe(backend, job))
    finally:
        jobs = _concurrent_jobs("transcribe")
        if jobs is not None:
            jobs.finish()
    events_backends[account][region].put_events([{
        "Source": "aws.transcribe", "DetailType": "Transcribe Job State Change",
        "Detail": json.dumps({"TranscriptionJobName": name, "TranscriptionJobStatus": job.status}),
        "Resources": [], "EventBusName": "default"}])


def _transcribe(backend: Any, job: Any) -> None:
    account, region = backend.account_id, backend.region_name
    name = job.transcription_job_name
    try:
        bucket, key = _s3_location(job.media["MediaFileUri"])
        role = (job.job_execution_settings or {}).get("DataAccessRoleArn")
        if role and not iam.service_may(role, "transcribe.amazonaws.com",
                                        iam_policy.Request("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")):
            raise PermissionError(f"The data access role {role} cannot read s3://{bucket}/{key}: check that the "
                                  "role trusts transcribe.amazonaws.com and allows s3:GetObject on the media")
        language = None if job.identify_language or job.identify_multiple_languages else job.language_code
        output = dict(_engines["transcribe"](_read_object(account, bucket, key), language))
        results = output.setdefault("results", {})
        output.update({"jobName": name, "accountId": account, "status": "COMPLETED"})
        _write_transcription(account, region, job, output, name)
        job.language_code = results.get("language_code") or job.language_code or "en-US"
        if job.identify_language:
            job.identified_language_score = float(results.pop("language_identification_score", 0.99) or 0.99)
        job.media_sample_rate_hertz = job.media_sample_rate_hertz or 16000
        job.completion_time = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        _pin_status(job, "COMPLETED")
    except Exception as exc:  # noqa: BLE001 - the job fails with a reason, as Transcribe's would
        log.info("transcription job %s failed: %s", name, exc)
        job.failure_reason = str(exc) or type(exc).__name__
        job.completion_time = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
        _pin_status(job, "FAILED")


def _install_transcribe() -> None:
    from moto.transcribe.models import TranscribeBackend

    start = _patch(TranscribeBackend, "start_transcription_job", None)
    get = _patch(TranscribeBackend, "get_transcription_job", None)

    def start_transcription_job(self: Any, transcription_job_name: str, *args: Any, **kwargs: Any) -> Any:
        if (kwargs.get("content_redaction") or {}).get("RedactionType") and (
                kwargs.get("identify_language") or kwargs.get("identify_multiple_languages")
                or kwargs.get("language_code") not in ("en-US", "es-US")):
            # Transcribe redacts batch transcripts in en-US and es-US only, never with language identification.
            raise _service_error("BadRequestException", "Content redaction is supported for en-US and es-US only "
                                 "and is not compatible with language identification")
        execution = kwargs.get("job_execution_settings") or {}
        deferred = bool(execution.get("AllowDeferredExecution"))
        if deferred and not execution.get("DataAccessRoleArn"):
            raise _service_error("BadRequestException", "AllowDeferredExecution requires a DataAccessRoleArn")
        jobs = _concurrent_jobs("transcribe")
        slot = transcription_job_name not in self.transcriptions and not deferred and jobs is not None
        if slot and not jobs.try_start():
            raise _service_error("LimitExceededException", "You have exceeded the maximum number of concurrent "
                                 "transcription jobs. Wait for a job to finish, or allow deferred execution.")
        try:
            response = start(self, transcription_job_name, *args, **kwargs)
        except Exception:
            if slot:
                jobs.finish()
            raise
        job = self.transcriptions[transcription_job_name]

        def run() -> None:
            job.start_time = _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
            _pin_status(job, "IN_PROGRESS")
            _background(f"transcribe-{transcription_job_name}", lambda: _run_transcription(self, job))

        if deferred and jobs is not None:  # Transcribe queues the job until one of the account's slots is free
            _pin_status(job, "QUEUED")
            jobs.defer(run)
        else:
            run()
        response["TranscriptionJob"]["TranscriptionJobStatus"] = job.status
        return response

    def get_transcription_job(self: Any, transcription_job_name: str) -> Any:
        response = get(self, transcription_job_name)
        job = self.transcriptions[transcription_job_name]
        if job.failure_reason:
            response["TranscriptionJob"]["FailureReason"] = job.failure_reason
        return response

    TranscribeBackend.start_transcription_job = start_transcription_job  # type: ignore[method-assign]
    TranscribeBackend.get_transcription_job = get_transcription_job  # type: ignore[method-assign]


def _service_error(code: str, message: str) -> Exception:
    """A JSON-protocol service error with HTTP 400, as Textract and Comprehend return them."""
    return _textract_error(code, message)


def _textract_error(code: str, message: str) -> Exception:
    from moto.core.exceptions import JsonRESTError

    error = JsonRESTError(code, message)
    error.code = 400
    return error


def _document_bytes(account: str, document: dict[str, Any]) -> bytes:
    if "Bytes" in document:
        raw = document["Bytes"]
        return base64.b64decode(raw) if isinstance(raw, str) else bytes(raw)
    s3_object = document.get("S3Object") or {}
    try:
        return _read_object(account, s3_object["Bucket"], s3_object["Name"])
    except (KeyError, FileNotFoundError) as exc:
        raise _textract_error("InvalidS3ObjectException", "Unable to get object metadata from S3. "
                              "Check object key, region and/or access permissions.") from exc


def _pages(blocks: list[dict[str, Any]]) -> int:
    return sum(1 for b in blocks if b.get("BlockType") == "PAGE")


def _run_text_detection(backend: Any, job: Any, document: bytes, tag: str | None,
                        location: dict[str, Any]) -> None:
    from moto.sns.models import sns_backends

    try:
        time.sleep(quotas_module().min_job_seconds())
        blocks = _engines["textract"](document)
        job.job.update({"JobStatus": "SUCCEEDED", "Blocks": blocks, "DocumentMetadata": {"Pages": _pages(blocks)}})
    except Exception as exc:  # noqa: BLE001 - the job fails with a status message, as Textract's would
        log.info("text detection job %s failed: %s", job.job_id, exc)
        job.job.update({"JobStatus": "FAILED", "StatusMessage": str(exc), "Blocks": [],
                        "DocumentMetadata": {"Pages": 0}})
    finally:
        jobs = _concurrent_jobs("textract")
        if jobs is not None:  # the job no longer counts against the quota once it ended
            jobs.finish()
    channel = job.notification_channel or {}
    if channel.get("SNSTopicArn") and not iam.service_may(
            channel.get("RoleArn"), "textract.amazonaws.com", iam_policy.Request("sns:Publish", channel["SNSTopicArn"])):
        log.warning("Textract could not publish job %s's completion through role %s", job.job_id, channel.get("RoleArn"))
    elif channel.get("SNSTopicArn"):
        s3_object = location.get("S3Object") or {}
        message = {"JobId": job.job_id, "Status": job.job["JobStatus"], "API": "StartDocumentTextDetection",
                   "JobTag": tag or "", "Timestamp": int(time.time() * 1000),
                   "DocumentLocation": {"S3ObjectName": s3_object.get("Name", ""),
                                        "S3Bucket": s3_object.get("Bucket", "")}}
        topic = channel["SNSTopicArn"]
        sns_backends[backend.account_id][topic.split(":")[3]].publish(message=json.dumps(message), arn=topic)


def _install_textract() -> None:
    from moto.textract.models import TextractBackend, TextractJob
    from moto.textract.responses import TextractResponse

    def detect_document_text(self: Any) -> str:
        params = json.loads(self.body)
        document = _document_bytes(self.current_account, params.get("Document") or {})
        try:
            blocks = _engines["textract"](document)
        except EngineError as exc:
            raise _textract_error(exc.code, str(exc)) from exc
        if _pages(blocks) > 1:
            raise _textract_error("UnsupportedDocumentException",
                                  "Request has unsupported document format: synchronous operations take one page")
        return json.dumps({"DocumentMetadata": {"Pages": _pages(blocks)}, "Blocks": blocks,
                           "DetectDocumentTextModelVersion": "1.0"})

    def start_document_text_detection(self: Any) -> str:
        params = json.loads(self.body)
        backend: TextractBackend = self.textract_backend
        location = params.get("DocumentLocation") or {}
        if not location.get("S3Object"):
            raise _textract_error("InvalidParameterException", "DocumentLocation.S3Object is required")
        tokens = backend.__dict__.setdefault("client_request_tokens", {})
        token = params.get("ClientRequestToken")
        if token and token in tokens:  # Textract returns the same job for the same token
            return json.dumps({"JobId": tokens[token]})
        document = _document_bytes(self.current_account, location)
        jobs = _concurrent_jobs("textract")
        if jobs is not None and not jobs.try_start():
            raise _textract_error("LimitExceededException", "An Amazon Textract service limit was exceeded: "
                                  "too many asynchronous jobs in progress")
        job = TextractJob({"JobStatus": "IN_PROGRESS", "DetectDocumentTextModelVersion": "1.0"},
                          notification_channel=params.get("NotificationChannel"))
        backend.async_text_detection_jobs[job.job_id] = job
        if token:
            tokens[token] = job.job_id
        _background(f"textract-{job.job_id}",
                    lambda: _run_text_detection(backend, job, document, params.get("JobTag"), location))
        return json.dumps({"JobId": job.job_id})

    def get_document_text_detection(self: Any) -> str:
        params = json.loads(self.body)
        job = self.textract_backend.get_document_text_detection(job_id=params.get("JobId"))
        state = job.job
        response = {k: state[k] for k in ("JobStatus", "StatusMessage", "DocumentMetadata",
                                          "DetectDocumentTextModelVersion") if k in state}
        if state["JobStatus"] != "IN_PROGRESS":
            blocks = state.get("Blocks") or []
            size = max(1, min(int(params.get("MaxResults") or 1000), 1000))
            start = int(params.get("NextToken") or 0)
            response["Blocks"] = blocks[start:start + size]
            if start + size < len(blocks):
                response["NextToken"] = str(start + size)
        return json.dumps(response)

    _patch(TextractResponse, "detect_document_text", detect_document_text)
    _patch(TextractResponse, "start_document_text_detection", start_document_text_detection)
    _patch(TextractResponse, "get_document_text_detection", get_document_text_detection)


def _install_bedrock() -> None:
    from moto.bedrockruntime.responses import BedrockRuntimeResponse
    from moto.core.responses import ActionResult

    def converse(self: Any) -> Any:
        messages = self._get_param("messages") or []
        system = self._get_param("system") or []
        config = self._get_param("inferenceConfig") or {}
        started = time.monotonic()
        text = _engines["bedrock"](messages, system, config)
        words_in = sum(len(str(block.get("text", "")).split()) for m in messages for block in m.get("content", []))
        words_in += sum(len(str(block.get("text", "")).split()) for block in system)
        tokens_in, tokens_out = int(words_in * 1.3) + 1, int(len(text.split()) * 1.3) + 1
        return ActionResult({
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": tokens_in, "outputTokens": tokens_out, "totalTokens": tokens_in + tokens_out},
            "metrics": {"latencyMs": int((time.monotonic() - started) * 1000)},
        })

    _patch(BedrockRuntimeResponse, "converse", converse)


def _install_comprehend() -> None:
    from moto.comprehend.responses import ComprehendResponse

    def detect_dominant_language(self: Any) -> str:
        text = json.loads(self.body).get("Text") or ""
        if len(text.encode("utf-8")) > COMPREHEND_MAX_TEXT_BYTES:
            raise _service_error("TextSizeLimitExceededException",
                                 f"Input text size exceeds limit. Max length of request text allowed is "
                                 f"{COMPREHEND_MAX_TEXT_BYTES} bytes while in this request the text size is "
                                 f"{len(text.encode('utf-8'))} bytes")
        if not text.strip():
            raise _service_error("InvalidRequestException", "The text has no characters to identify a language in")
        response = _engines["comprehend_language"](text)
        return json.dumps({"Languages": [{"LanguageCode": str(lang["LanguageCode"]), "Score": float(lang["Score"])}
                                         for lang in response.get("Languages") or []]})

    _patch(ComprehendResponse, "detect_dominant_language", detect_dominant_language)


def _install_comprehend_pii() -> None:
    from moto.comprehend.responses import ComprehendResponse

    def detect_pii_entities(self: Any) -> str:
        body = json.loads(self.body)
        text, language = body.get("Text") or "", body.get("LanguageCode") or ""
        if language not in COMPREHEND_PII_LANGUAGES:
            raise _service_error("ValidationException", f"Value '{language}' at 'languageCode' failed to satisfy "
                                 f"constraint: Member must satisfy enum value set: {list(COMPREHEND_PII_LANGUAGES)}")
        size = len(text.encode("utf-8"))
        if size > COMPREHEND_MAX_TEXT_BYTES:
            raise _service_error("TextSizeLimitExceededException",
                                 f"Input text size exceeds limit. Max length of request text allowed is "
                                 f"{COMPREHEND_MAX_TEXT_BYTES} bytes while in this request the text size is {size} bytes")
        if not text:
            raise _service_error("ValidationException", "Value at 'text' failed to satisfy constraint: Member must "
                                 "have length greater than or equal to 1")
        response = _engines["comprehend_pii"](text, language)
        return json.dumps({"Entities": [{"Score": float(e["Score"]), "Type": str(e["Type"]),
                                         "BeginOffset": int(e["BeginOffset"]), "EndOffset": int(e["EndOffset"])}
                                        for e in response.get("Entities") or []]})

    _patch(ComprehendResponse, "detect_pii_entities", detect_pii_entities)


def install_ai_engines(*, transcribe: TranscribeEngine | None = None, textract: TextractEngine | None = None,
                       bedrock: BedrockEngine | None = None,
                       comprehend_language: ComprehendLanguageEngine | None = None,
                       comprehend_pii: ComprehendPiiEngine | None = None) -> None:
    """Answer the AI services' APIs with engines; only the services given are changed.

    transcribe(audio_bytes, language_code_or_None) -> Transcribe's output JSON (at least "results"; None asks
        for language identification and the engine reports results.language_code). StartTranscriptionJob
        returns IN_PROGRESS at once; a worker thread runs the engine, writes the JSON to OutputBucketName/
        OutputKey, marks the job COMPLETED (FAILED with FailureReason if the engine raises) and puts the
        `aws.transcribe` "Transcribe Job State Change" event on the default bus.
    textract(document_bytes) -> Textract blocks (PAGE, LINE, WORD, each with Page). DetectDocumentText runs it
        at once (one page only); StartDocumentTextDetection runs it on a worker thread, honours JobTag and
        ClientRequestToken, and publishes Textract's completion message to the NotificationChannel topic;
        GetDocumentTextDetection pages the blocks with MaxResults and NextToken. Raise EngineError(message,
        code) to refuse a document with a Textract error code.
    bedrock(messages, system, inferenceConfig) -> the assistant's text, returned by Converse in Bedrock's
        response shape (output.message.content[0].text, stopReason, usage, metrics).
    comprehend_language(text) -> DetectDominantLanguage's response ({"Languages": [{"LanguageCode", "Score"}]}).
        Text over 100,000 UTF-8 bytes is refused with TextSizeLimitExceededException and blank text with
        InvalidRequestException before the engine runs, as Comprehend refuses them.
    comprehend_pii(text, language) -> DetectPiiEntities' response ({"Entities": [{"Score", "Type", "BeginOffset",
        "EndOffset"}]}, character offsets). Text over 100,000 UTF-8 bytes is refused with
        TextSizeLimitExceededException, a language other than en/es and empty text with ValidationException. The
        emulated Transcribe uses the same engine for ContentRedaction (media_pipeline.local.engines.pii when none is
        installed): the redacted transcript is written beside OutputKey as `redacted-<file>` (its
        RedactedTranscriptFileUri), the unredacted one at OutputKey only with `redacted_and_unredacted`.
    """
    if transcribe is not None:
        _engines["transcribe"] = transcribe
        _install_transcribe()
    if textract is not None:
        _engines["textract"] = textract
        _install_textract()
    if bedrock is not None:
        _engines["bedrock"] = bedrock
        _install_bedrock()
    if comprehend_language is not None:
        _engines["comprehend_language"] = comprehend_language
        _install_comprehend()
    if comprehend_pii is not None:
        _engines["comprehend_pii"] = comprehend_pii
        _install_comprehend_pii()


# --------------------------------------------------------------------------------------------------------------
# ECS: Step Functions' RunTask integration, and tasks that really run (as local processes).
# --------------------------------------------------------------------------------------------------------------

def _to_api_shape(value: Any, shape: Any) -> Any:
    """ASL writes API parameters in PascalCase; the ECS API's members are camelCase. Map by the API's model."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        out = {}
        for key, item in value.items():
            name = members.get(key.lower(), key)
            out[name] = _to_api_shape(item, shape.members.get(name))
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_to_api_shape(item, shape.member) for item in value]
    return value


def _to_asl_case(value: Any) -> Any:
    """Step Functions returns service responses with PascalCase keys."""
    if isinstance(value, dict):
        return {(k[:1].upper() + k[1:]) if isinstance(k, str) else k: _to_asl_case(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_asl_case(v) for v in value]
    return value


def _task_environment(task: Any, task_definition: Any) -> dict[str, str]:
    """The first container's environment with the RunTask overrides applied, as ECS would give it."""
    definitions = task_definition.container_definitions or []
    container = definitions[0] if definitions else {}
    environment = {e["name"]: e["value"] for e in container.get("environment") or []}
    for override in (task.overrides or {}).get("containerOverrides") or []:
        if override.get("name") in (None, container.get("name")):
            environment.update({e["name"]: e["value"] for e in override.get("environment") or []})
    return environment


def _run_task_process(task: Any, task_definition: Any, runner: TaskRunner) -> None:
    _pin_status(task, "RUNNING")
    exit_code: int | None = 1
    reason = "Essential container in task exited"
    try:
        with iam.acting_as(getattr(task_definition, "task_role_arn", None)):  # the task role makes its calls
            started = runner(_task_environment(task, task_definition))
        exit_code = started.wait() if hasattr(started, "wait") else (started if isinstance(started, int) else 0)
    except Exception as exc:  # noqa: BLE001 - the task stops, as a crashed container would
        log.exception("task %s could not run", task.task_arn)
        reason = f"CannotStartContainerError: {exc}"
    _pin_status(task, "STOPPED")
    task.desired_status = "STOPPED"
    task.stopped_reason = reason
    for container in task.containers:
        container.last_status = "STOPPED"
        container.exitCode = exit_code


def install_task_runner(runners: Mapping[str, TaskRunner]) -> None:
    """RunTask of a task definition whose FAMILY is registered starts runners[family](environment) on a worker
    thread instead of a container; environment is the container's, with the RunTask overrides (TASK_TOKEN...).
    A runner returns a Popen-like object (waited for) or an exit code; then the task is STOPPED.

    Also maps the ASL-cased parameters of `arn:aws:states:::ecs:runTask(.sync|.waitForTaskToken)` to the ECS
    API's names (moto's Step Functions engine passes them unchanged, so RunTask saw no cluster or task
    definition) and returns the response PascalCased, as Step Functions does.
    """
    from botocore.session import get_session
    from moto.ecs.models import EC2ContainerServiceBackend
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_ecs import (
        StateTaskServiceEcs,
    )

    _task_runners.update(runners)
    model = get_session().get_service_model("ecs")

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        action = service_action_name or self._get_boto_service_action()
        operation = model.operation_model("".join(p.capitalize() for p in action.split("_")))
        converted = _to_api_shape(dict(parameters), operation.input_shape)
        parameters.clear()
        parameters.update(converted)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        if isinstance(response, dict) and any(k[:1].islower() for k in response):
            converted = _to_asl_case(response)
            response.clear()
            response.update(converted)

    _patch(StateTaskServiceEcs, "_normalise_parameters", normalise_parameters)
    _patch(StateTaskServiceEcs, "_normalise_response", normalise_response)

    run_task = _patch(EC2ContainerServiceBackend, "run_task", None)

    def run_registered(self: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = run_task(self, *args, **kwargs)
        for task in tasks:
            definition = self.describe_task_definition(task.task_definition_arn)
            runner = _task_runners.get(definition.family)
            if runner is not None:
                _pin_status(task, "PENDING")
                _background(f"task-{task.id}",
                            lambda t=task, d=definition, r=runner: _run_task_process(t, d, r))
        return tasks

    EC2ContainerServiceBackend.run_task = run_registered  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# Capacity: service quotas and injected faults, answered where botocore sends a request (quotas.py).
# --------------------------------------------------------------------------------------------------------------

_refused = threading.local()  # the answer a refused request gets, while botocore sends it


def install_capacity(quotas: Any = None, faults: Any = None) -> None:
    """moto has no quotas: every request is served however many arrive. With this, requests over a rate quota
    (quotas.Quotas) and a seeded share of injected faults (quotas.Faults) are answered with the service's own
    throttling error or a 5xx instead of being run, in the service's protocol, so botocore's retry modes and the
    pipeline's error mapping see what AWS would send. The answer is decided where botocore sends each attempt
    (Endpoint._do_get_response) and delivered by moto's in-process stubber or, against the emulator's server, in
    place of the HTTP request. Concurrent-job quotas are kept by the emulated Transcribe (QUEUED with
    AllowDeferredExecution, LimitExceededException without) and Textract (LimitExceededException), Lambda's
    concurrency by synchronous Invoke (TooManyRequestsException)."""
    from botocore.awsrequest import AWSResponse
    from botocore.endpoint import Endpoint
    from moto.core.botocore_stubber import BotocoreStubber, MockRawResponse

    from media_pipeline.local import quotas as quota_rules

    quota_rules.install(quotas, faults)
    get_response = _patch(Endpoint, "_do_get_response", None)
    send = _patch(Endpoint, "_send", None)
    stub = _patch(BotocoreStubber, "__call__", None)

    def answer(request: Any) -> Any:
        status, headers, body = _refused.answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    def do_get_response(self: Any, request: Any, operation_model: Any, context: Any) -> Any:
        service = operation_model.service_model.service_id.hyphenize()
        _refused.answer = quota_rules.refusal(service, operation_model.name, request.body)
        try:
            return get_response(self, request, operation_model, context)
        finally:
            _refused.answer = None

    def send_unless_refused(self: Any, request: Any) -> Any:
        return answer(request) if getattr(_refused, "answer", None) else send(self, request)

    def stub_unless_refused(self: Any, event_name: str, request: Any, **kwargs: Any) -> Any:
        if self.enabled and getattr(_refused, "answer", None):
            return answer(request)
        return stub(self, event_name, request, **kwargs)

    Endpoint._do_get_response = do_get_response  # type: ignore[method-assign]
    Endpoint._send = send_unless_refused  # type: ignore[method-assign]
    BotocoreStubber.__call__ = stub_unless_refused  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# EventBridge schedules.
# --------------------------------------------------------------------------------------------------------------

_RATE_UNITS = {"minute": 60.0, "minutes": 60.0, "hour": 3600.0, "hours": 3600.0, "day": 86400.0, "days": 86400.0}
_schedules: dict[str, Any] = {}


def schedule_seconds(expression: str) -> float | None:
    """`rate(5 minutes)` -> 300.0; None for what the emulator does not fire (cron expressions)."""
    import re

    match = re.fullmatch(r"rate\((\d+) (\w+)\)", (expression or "").strip())
    if not match or match.group(2) not in _RATE_UNITS:
        return None
    return int(match.group(1)) * _RATE_UNITS[match.group(2)]


def install_schedules(time_scale: float = 1.0, tick: float = 0.25) -> None:
    """moto stores rules with a ScheduleExpression but never fires them. With this, each `rate(...)` rule sends
    EventBridge's "Scheduled Event" to its targets at its rate multiplied by `time_scale` (tests compress time;
    cron expressions are not fired)."""
    from moto.events.models import events_backends

    stop = _schedules.get("stop")
    if stop is not None:
        stop.set()
    stop = threading.Event()
    _schedules["stop"] = stop
    last: dict[str, float] = {}

    def fire_due() -> None:
        now = time.monotonic()
        for account, regions in list(events_backends.items()):
            for region, backend in list(regions.items()):
                rules = [rule for bus in list(backend.event_buses.values()) for rule in list(bus.rules.values())]
                for rule in rules:
                    seconds = schedule_seconds(getattr(rule, "scheduled_expression", None) or "")
                    if seconds is None or rule.state != "ENABLED":
                        continue
                    due = last.setdefault(rule.arn, now) + seconds * time_scale
                    if now < due:
                        continue
                    last[rule.arn] = now
                    rule.send_to_targets({
                        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                        "source": "aws.events", "account": account, "time": time.time(),
                        "region": region, "resources": [rule.arn], "detail": {}, "ingestion-time": time.time()})

    def run() -> None:
        while not stop.wait(tick):
            try:
                fire_due()
            except Exception:  # noqa: BLE001 - a schedule that cannot fire now fires at the next tick
                log.exception("a scheduled rule could not fire")

    threading.Thread(target=run, name="emulator-schedules", daemon=True).start()


# --------------------------------------------------------------------------------------------------------------
# Step Functions' execution status change events on the default bus.
# --------------------------------------------------------------------------------------------------------------

def install_execution_events() -> None:
    """moto's Step Functions puts no "Step Functions Execution Status Change" event on EventBridge. With this, an
    execution that ends (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) puts one on the default bus, shaped as AWS's."""
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    terminated = _patch(BaseExecutionWorkerCommunication, "terminated", None)

    def terminated_with_event(self: Any) -> None:
        terminated(self)
        execution = self.execution
        status = getattr(execution.exec_status, "value", str(execution.exec_status))
        detail = {"executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine_arn,
                  "name": execution.name, "status": status,
                  "startDate": int(execution.start_date.timestamp() * 1000) if execution.start_date else None,
                  "stopDate": int(execution.stop_date.timestamp() * 1000) if execution.stop_date else None}
        region = execution.exec_arn.split(":")[3]
        events_backends[execution.account_id][region].put_events([{
            "Source": "aws.states", "DetailType": "Step Functions Execution Status Change",
            "Detail": json.dumps(detail), "Resources": [execution.exec_arn], "EventBusName": "default"}])

    BaseExecutionWorkerCommunication.terminated = terminated_with_event  # type: ignore[method-assign]


def install_stop_execution() -> None:
    """moto's StopExecution does not end an execution waiting on a task token: it stays RUNNING until the token is
    answered or times out, and then ends FAILED (States.Timeout or States.Runtime). With this, stopping interrupts
    the execution's waits and the execution ends ABORTED, as in AWS, whatever error the interrupted state raises."""
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    stop = _patch(ExecutionWorker, "stop", None)
    set_error = _patch(Environment, "set_error", None)
    set_timed_out = _patch(Environment, "set_timed_out", None)

    def stop_and_interrupt(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
        stop(self, stop_date, error, cause)
        for endpoint in list(self.env.callback_pool_manager._pool.values()):
            endpoint.interrupt_all()

    def unless_stopped(original: Callable[..., None]) -> Callable[..., None]:
        def apply(self: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(self._program_state, ProgramStopped):
                return
            original(self, *args, **kwargs)
        return apply

    ExecutionWorker.stop = stop_and_interrupt  # type: ignore[method-assign]
    Environment.set_error = unless_stopped(set_error)  # type: ignore[method-assign]
    Environment.set_timed_out = unless_stopped(set_timed_out)  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# Express workflows: what AWS does not offer for them, refused as AWS refuses it.
# --------------------------------------------------------------------------------------------------------------

def _express_arn(arn: str) -> bool:
    return arn.split(":")[5:6] == ["express"]


def install_express_executions() -> None:
    """moto runs an EXPRESS state machine as a Standard one: an `execution:` ARN, names deduplicated, and
    DescribeExecution, GetExecutionHistory, ListExecutions and StopExecution answer. In AWS an asynchronous Express
    execution is `arn:...:express:<state machine>:<name>:<id>`, the same name starts another execution (no
    idempotency), the four calls are refused (InvalidArn: "Resource type not valid in this context: express";
    ListExecutions: StateMachineTypeNotSupported) and no "Execution Status Change" event is sent. With this the
    emulator does the same. Install after install_execution_events."""
    from moto.core.exceptions import AWSError
    from moto.stepfunctions.exceptions import InvalidArn
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    class StateMachineTypeNotSupported(AWSError):
        TYPE = "StateMachineTypeNotSupported"
        STATUS = 400

    start_execution = _patch(StepFunctionsParserBackend, "start_execution", None)

    def start_express(self: Any, state_machine_arn: str, name: Any = None, execution_input: Any = None,
                      trace_header: Any = None) -> Any:
        machine = self.describe_state_machine(state_machine_arn)
        if getattr(machine, "type", "STANDARD") != "EXPRESS":
            return start_execution(self, state_machine_arn, name, execution_input, trace_header)
        name = name or str(uuid.uuid4())
        execution = start_execution(self, state_machine_arn, f"{name}:{uuid.uuid4()}", execution_input, trace_header)
        execution.exec_arn = execution.execution_arn = execution.exec_arn.replace(":execution:", ":express:", 1)
        execution.name = name
        return execution

    StepFunctionsParserBackend.start_execution = start_express  # type: ignore[method-assign]

    def refuse_express(operation: str) -> Callable[..., Any]:
        original = _patch(StepFunctionResponse, operation, None)

        def refused(self: Any) -> Any:
            arn = self._get_param("executionArn") or ""
            if _express_arn(arn):
                raise InvalidArn("Invalid Arn: 'Resource type not valid in this context: express'")
            return original(self)
        return refused

    for operation in ("describe_execution", "get_execution_history", "stop_execution"):
        setattr(StepFunctionResponse, operation, refuse_express(operation))

    list_executions = _patch(StepFunctionResponse, "list_executions", None)

    def list_standard_executions(self: Any) -> Any:
        machine = self.stepfunction_backend.describe_state_machine(self._get_param("stateMachineArn"))
        if getattr(machine, "type", "STANDARD") == "EXPRESS":
            raise StateMachineTypeNotSupported("This operation is not supported by this type of state machine")
        return list_executions(self)

    StepFunctionResponse.list_executions = list_standard_executions  # type: ignore[method-assign]

    current_terminated = BaseExecutionWorkerCommunication.terminated
    moto_terminated = _patch(BaseExecutionWorkerCommunication, "terminated", None)

    def terminated_without_event(self: Any) -> None:  # Express sends no Execution Status Change event
        # By the state machine's type: a short execution can end before start_express has rewritten its ARN.
        express = getattr(getattr(self.execution, "state_machine", None), "type", "STANDARD") == "EXPRESS"
        (moto_terminated if express else current_terminated)(self)

    BaseExecutionWorkerCommunication.terminated = terminated_without_event  # type: ignore[method-assign]


def express_execution_log(execution_arn: str) -> tuple[str, list[dict[str, Any]]]:
    """An Express execution's status and events, as its CloudWatch Logs group holds them in AWS (level ALL, with the
    data): the only place an Express execution can be read afterwards. moto does not deliver Step Functions logs, so
    they are read from the emulated execution itself. ("", []) for an execution the emulator does not know."""
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    _, _, _, region, account, *_ = execution_arn.split(":")
    backend = stepfunctions_parser_backends[account][region]
    for machine in backend.state_machines:
        for execution in machine.executions:
            if execution.exec_arn == execution_arn:
                status = getattr(execution.exec_status, "value", str(execution.exec_status))
                events = [{key: _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")) if key == "timestamp"
                           else getattr(value, "value", value) for key, value in event.items()}
                          for event in execution.to_history_output()["events"]]  # as the API would give them
                return status, events
    return "", []


# --------------------------------------------------------------------------------------------------------------
# SQS message move tasks (DLQ redrive): StartMessageMoveTask and ListMessageMoveTasks.
# --------------------------------------------------------------------------------------------------------------

_move_tasks: dict[str, list[dict[str, Any]]] = {}  # source queue ARN -> its tasks, newest first


def _sqs_error(code: str, message: str) -> Exception:
    from moto.sqs.exceptions import SQSException

    return SQSException(code, message)


def _move_messages(backend: Any, source: Any, destination: Any, task: dict[str, Any]) -> None:
    """What SQS does for a move task: receive from the DLQ, send each message to the destination as a new message
    (body and attributes kept, receive count reset), delete it from the DLQ; at most the rate asked for."""
    rate = task.get("MaxNumberOfMessagesPerSecond")
    while task["Status"] == "RUNNING":
        messages = backend.receive_message(source.name, 10, 0, 30)
        if not messages:
            break
        for message in messages:
            backend.send_message(destination.name, message.body,
                                 message_attributes=dict(message.message_attributes or {}) or None)
            backend.delete_message(source.name, message.receipt_handle)
            task["ApproximateNumberOfMessagesMoved"] += 1
            if rate:
                time.sleep(1.0 / int(rate))
    if task["Status"] == "RUNNING":
        task["Status"] = "COMPLETED"


def install_message_move_tasks() -> None:
    """SQS's DLQ redrive API, which moto 5.2.5 does not implement (NotImplementedError).

    StartMessageMoveTask(SourceArn, [DestinationArn], [MaxNumberOfMessagesPerSecond]) moves the DLQ's messages on
    a background thread, as new messages, to DestinationArn or, without it, back to the queue whose RedrivePolicy
    names the DLQ (AWS remembers each message's own source queue; the emulator requires that exactly one queue
    uses the DLQ). A source that is no queue's DLQ, or that already has a running task, is refused with
    UnsupportedOperation; a missing queue with ResourceNotFoundException. ListMessageMoveTasks(SourceArn,
    [MaxResults, default 1]) reports the newest tasks first: Status, ApproximateNumberOfMessagesToMove (counted at
    the start), ApproximateNumberOfMessagesMoved, StartedTimestamp, and the TaskHandle of a running task.
    CancelMessageMoveTask is not emulated.
    """
    from moto.core.responses import ActionResult
    from moto.sqs.responses import SQSResponse

    _move_tasks.clear()

    def queue_of(backend: Any, arn: str) -> Any:
        try:
            return backend.get_queue(arn.rsplit(":", 1)[-1])
        except Exception:  # noqa: BLE001 - moto's QueueDoesNotExist; SQS says it this way for this API
            raise _sqs_error("ResourceNotFoundException", f"The resource that you specified for the SourceArn "
                             f"parameter doesn't exist: {arn}") from None

    def start_message_move_task(self: Any) -> Any:
        backend = self.sqs_backend
        source_arn = self._get_param("SourceArn")
        source = queue_of(backend, source_arn)
        sources = backend.list_dead_letter_source_queues(source.name)
        if not sources:
            raise _sqs_error("UnsupportedOperation", "Source queue must be configured as a Dead Letter Queue.")
        destination_arn = self._get_param("DestinationArn")
        if destination_arn:
            destination = queue_of(backend, destination_arn)
        elif len(sources) == 1:
            destination = sources[0]
        else:
            raise _sqs_error("UnsupportedOperation", "the emulator cannot tell the source queue of each message "
                             "of a DLQ used by several queues: give DestinationArn")
        tasks = _move_tasks.setdefault(source.queue_arn, [])
        if any(task["Status"] == "RUNNING" for task in tasks):
            raise _sqs_error("UnsupportedOperation", "There is already a task running. Only one active task is "
                             "allowed for a source queue arn at a given time.")
        handle = base64.b64encode(json.dumps({"taskId": str(uuid.uuid4()),
                                              "sourceArn": source.queue_arn}).encode()).decode()
        task: dict[str, Any] = {
            "TaskHandle": handle, "Status": "RUNNING", "SourceArn": source.queue_arn,
            "ApproximateNumberOfMessagesMoved": 0,
            "ApproximateNumberOfMessagesToMove": len(source.messages),
            "StartedTimestamp": int(time.time() * 1000),
        }
        if destination_arn:
            task["DestinationArn"] = destination_arn
        if self._get_param("MaxNumberOfMessagesPerSecond"):
            task["MaxNumberOfMessagesPerSecond"] = int(self._get_param("MaxNumberOfMessagesPerSecond"))
        tasks.insert(0, task)
        _background(f"message-move-{source.name}", lambda: _move_messages(backend, source, destination, task))
        return ActionResult({"TaskHandle": handle})

    def list_message_move_tasks(self: Any) -> Any:
        source = queue_of(self.sqs_backend, self._get_param("SourceArn"))
        limit = int(self._get_param("MaxResults") or 1)
        results = []
        for task in _move_tasks.get(source.queue_arn, [])[:limit]:
            shown = dict(task)
            if shown["Status"] != "RUNNING":
                shown.pop("TaskHandle")
            results.append(shown)
        return ActionResult({"Results": results})

    _patch(SQSResponse, "start_message_move_task", start_message_move_task)
    _patch(SQSResponse, "list_message_move_tasks", list_message_move_tasks)


# --------------------------------------------------------------------------------------------------------------
# Step Functions Distributed Map (backfill): what moto's engine lacks, in one block.
# moto 5.2.5's parser rejects ItemBatcher, ToleratedFailurePercentage/Count and ExecutionType EXPRESS; its map run
# counts a failed child as succeeded (output null); its ItemReader lists one page of 1,000 objects in boto3's shape;
# its ResultWriter writes a manifest.json that lists no result file; no IAM check for the child executions.
# install_distributed_map closes each; media_pipeline/backfill.py runs on it.
# --------------------------------------------------------------------------------------------------------------

DISTRIBUTED_MAP_OPTIONS = ("ItemBatcher", "ToleratedFailurePercentage", "ToleratedFailureCount")


def _distributed_maps(states: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Distributed Map states of a definition's `States`, nested ones included."""
    found: list[dict[str, Any]] = []
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        processor = state.get("ItemProcessor") or state.get("Iterator") or {}
        if state.get("Type") == "Map" and (processor.get("ProcessorConfig") or {}).get("Mode") == "DISTRIBUTED":
            found.append({"name": name, "state": state})
        found.extend(_distributed_maps(processor.get("States") or {}))
        for branch in state.get("Branches") or []:
            found.extend(_distributed_maps(branch.get("States") or {}))
    return found


def parseable_definition(definition: str) -> tuple[str, dict[str, dict[str, Any]]]:
    """The definition without what moto's parser rejects in a Distributed Map, and those fields by state name
    (ExecutionType included: the emulator runs every child the same way, in the execution's threads)."""
    try:
        document = json.loads(definition)
    except ValueError:
        return definition, {}
    options: dict[str, dict[str, Any]] = {}
    for found in _distributed_maps(document.get("States") or {}):
        state = found["state"]
        taken = {key: state.pop(key) for key in DISTRIBUTED_MAP_OPTIONS if key in state}
        config = (state.get("ItemProcessor") or state.get("Iterator"))["ProcessorConfig"]
        taken["ExecutionType"] = config.get("ExecutionType", "STANDARD")
        config["ExecutionType"] = "STANDARD"
        options[found["name"]] = taken
    return (json.dumps(document) if options else definition), options


def _attach_map_options(program: Any, options: Mapping[str, dict[str, Any]]) -> None:
    """Give each parsed Distributed Map's iteration component the options the parser was spared."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.state_map import StateMap

    seen: set[int] = set()
    pending = [program]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, StateMap) and node.name in options:
            node.iteration_component._distributed_map_options = options[node.name]  # type: ignore[attr-defined]
        if isinstance(node, dict):
            pending.extend(node.values())
        elif isinstance(node, (list, tuple)):
            pending.extend(node)
        elif type(node).__module__.startswith("moto.stepfunctions.parser.asl.component"):
            pending.extend(vars(node).values())


def _path_value(document: Any, path: str) -> Any:
    """A plain JSONPath (`$.a.b`) in a document (enough for an ItemBatcher's BatchInput)."""
    value = document
    for part in [p for p in path[1:].split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _batch_input(template: Mapping[str, Any], state_input: Any, context: Any) -> dict[str, Any]:
    resolved: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$") and isinstance(value, str):
            resolved[key[:-2]] = _path_value(context, value[1:]) if value.startswith("$$") \
                else _path_value(state_input, value)
        else:
            resolved[key] = _batch_input(value, state_input, context) if isinstance(value, dict) else value
    return resolved


def listed_object(item: Mapping[str, Any]) -> dict[str, Any]:
    """An object of ItemReader's listObjectsV2 as AWS gives it (`Etag`, `LastModified` in epoch seconds, no other
    keys); moto hands over boto3's own shape (`ETag`, a datetime), which is not even JSON."""
    modified = item.get("LastModified")
    if isinstance(modified, _dt.datetime):
        modified = int(modified.timestamp())
    return {"Etag": item.get("ETag", item.get("Etag")), "Key": item["Key"], "LastModified": modified,
            "Size": item.get("Size"), "StorageClass": item.get("StorageClass", "STANDARD")}


def map_batches(items: list[Any], batcher: Mapping[str, Any], batch_input: Any = None) -> list[dict[str, Any]]:
    """Items grouped as ItemBatcher does: `{"Items": [...]}` of at most MaxItemsPerBatch items and
    MaxInputBytesPerBatch bytes (256 KiB by default), with `BatchInput` when given."""
    max_items = int(batcher.get("MaxItemsPerBatch") or len(items) or 1)
    max_bytes = int(batcher.get("MaxInputBytesPerBatch") or 262_144)
    batches: list[dict[str, Any]] = []
    current: list[Any] = []
    size = 0
    for item in items:
        item_size = len(json.dumps(item))
        if current and (len(current) >= max_items or size + item_size > max_bytes):
            batches.append({"Items": current})
            current, size = [], 0
        current.append(item)
        size += item_size
    if current:
        batches.append({"Items": current})
    if batch_input is not None:
        for batch in batches:
            batch["BatchInput"] = batch_input
    return batches


def tolerance_exceeded(failed_items: int, total_items: int, options: Mapping[str, Any]) -> bool:
    """AWS's rule: the map run fails once more items failed than ToleratedFailureCount, or a larger share than
    ToleratedFailurePercentage (both 0 when absent: one failure fails it)."""
    if failed_items == 0:
        return False
    count = options.get("ToleratedFailureCount")
    percentage = options.get("ToleratedFailurePercentage")
    if count is None and percentage is None:
        return True
    over_count = count is not None and failed_items > int(count)
    over_share = percentage is not None and 100.0 * failed_items / max(total_items, 1) > float(percentage)
    return over_count or over_share  # either threshold, when both are set


def _child_execution_denial(state_machine_arn: str, map_run_arn: str) -> str | None:
    """What AWS needs of the state machine's role to run a Distributed Map's children: StartExecution on itself,
    DescribeExecution and StopExecution on the child executions (`execution:<name>/<map run>:<child>`)."""
    from media_pipeline.local.iam_operations import Call

    role = iam.current()
    if role is None or iam.principal_for(role) is None:
        return None
    account, region = state_machine_arn.split(":")[4], state_machine_arn.split(":")[3]
    run = map_run_arn.split(":mapRun:", 1)[1]
    child = state_machine_arn.replace(":stateMachine:", ":execution:", 1).split(":execution:")[0] + \
        f":execution:{run.split(':')[0]}:{uuid.uuid4()}"
    for operation, params in (("StartExecution", {"stateMachineArn": state_machine_arn}),
                              ("DescribeExecution", {"executionArn": child}),
                              ("StopExecution", {"executionArn": child})):
        denied = iam.authorize(role, Call(service="stepfunctions", operation=operation, params=params,
                                          region=region, account=account))
        if denied is not None:
            request, reason = denied
            return iam.denial_message(role, request, reason)
    return None


def _map_failure(env: Any, error: str, cause: str) -> Exception:
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.custom_error_name import CustomErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (FailureEvent,
                                                                                          FailureEventException)
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import StatesErrorName
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import StatesErrorNameType

    name = StatesErrorName(typ=StatesErrorNameType["States" + error[len("States."):]]) \
        if error.startswith("States.") else CustomErrorName(error_name=error)
    return FailureEventException(failure_event=FailureEvent(
        env=env, error_name=name, event_type=HistoryEventType.MapRunFailed,
        event_details=EventDetails(executionFailedEventDetails=ExecutionFailedEventDetails(error=error, cause=cause))))


def _failure_of(exc: Exception) -> tuple[str, str]:
    pair = exc.extract_error_cause_pair() if hasattr(exc, "extract_error_cause_pair") else None
    error, cause = pair if pair else (type(exc).__name__, str(exc))
    return error or "States.TaskFailed", cause or ""


class ChildExecutionFailed(Exception):
    """A Distributed Map child that ended FAILED, with its error and cause (moto's worker drops both)."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error, self.cause = error, cause

    def extract_error_cause_pair(self) -> tuple[str, str]:
        return self.error, self.cause


def _run_child(worker: Any, env: Any, job: Any) -> None:
    """One child of a Distributed Map: its output, or ChildExecutionFailed with the error that ended it."""
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramStopped
    from moto.stepfunctions.parser.asl.eval.states import ItemData, MapData

    counters = worker._map_run_record
    counters.item_counter.total.count()
    counters.execution_counter.total.count()
    output: Any = ChildExecutionFailed("States.Runtime", "the child execution did not finish")
    try:
        env.states.context_object.context_object_data["Map"] = MapData(
            Item=ItemData(Index=job.job_index, Value=job.job_input))
        env.states.reset(job.job_input)
        env.stack.append(env.states.get_input())
        worker._eval_input(env_frame=env)
        job.job_program.eval(env)
        end = env.program_state()
        if isinstance(end, ProgramError):
            details = end.error or {}
            output = ChildExecutionFailed(details.get("error") or "States.TaskFailed", details.get("cause") or "")
        elif isinstance(end, ProgramStopped):
            output = ChildExecutionFailed("States.Aborted", "the child execution was stopped")
        else:
            output = env.states.get_input()
    except Exception as exc:  # noqa: BLE001 - whatever ended the child is its failure
        error, cause = _failure_of(exc)
        output = ChildExecutionFailed(error, cause)
    finally:
        failed = isinstance(output, Exception)
        (counters.item_counter.failed if failed else counters.item_counter.succeeded).count()
        (counters.execution_counter.failed if failed else counters.execution_counter.succeeded).count()
        job.job_output = output


def _tolerant_job_pool(program: Any, inputs: list[Any], sizes: list[int], options: Mapping[str, Any],
                       relaunch: Callable[[], None]) -> Any:
    """moto's JobPool, but a failed child is counted (items of its batch) rather than ending the map run, unless
    the failures pass the tolerance; a worker whose child failed is replaced (moto's worker stops there)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.job import JobClosed, JobPool

    class TolerantJobPool(JobPool):
        def __init__(self) -> None:
            super().__init__(job_program=program, job_inputs=inputs)
            self.failed: dict[int, Exception] = {}
            self.exceeded = False
            self.finished_at: dict[int, str] = {}
            self.tolerant = True

        def _is_terminated(self) -> bool:
            return len(self._closed_jobs) + len(self.failed) == self._jobs_number or self._worker_exception is not None

        def close_job(self, job: Any) -> None:
            replace = False
            with self._mutex:
                if self._is_terminated():
                    return
                self.finished_at[job.job_index] = _iso(_dt.datetime.now(_dt.timezone.utc))
                if isinstance(job.job_output, Exception):
                    self.failed[job.job_index] = job.job_output
                    failed_items = sum(sizes[index] for index in self.failed)
                    if tolerance_exceeded(failed_items, sum(sizes), options):
                        self.exceeded = True
                        self._worker_exception = job.job_output
                    else:
                        replace = bool(self._open_jobs)
                elif job.job_index not in self.failed:  # moto's worker may close a failed job twice
                    self._closed_jobs.add(JobClosed(job_index=job.job_index, job_output=job.job_output))
                self._notify_on_termination()
            if replace:
                relaunch()

    return TolerantJobPool()


def install_distributed_map() -> None:
    """Distributed Map as AWS runs it: ItemBatcher, ToleratedFailurePercentage/Count, ExecutionType EXPRESS
    accepted; failures tolerated as configured; the ResultWriter writes SUCCEEDED_0.json and FAILED_0.json (AWS's
    record format) and lists them in manifest.json; the children need the role's StartExecution on the state
    machine and DescribeExecution/StopExecution on its executions (the strict emulator denies otherwise)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.distributed_iteration_component import \
        DistributedIterationComponent
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval.resource_eval_s3 \
        import ResourceEvalS3
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    with _lock:
        if (id(AmazonStateLanguageParser), "parse") in _patches:
            return
    parse = _patch(AmazonStateLanguageParser, "parse", None)

    def parse_distributed(definition: str) -> Any:
        text, options = parseable_definition(definition)
        program, tree = parse(text)
        if options:
            _attach_map_options(program, options)
        return program, tree

    AmazonStateLanguageParser.parse = staticmethod(parse_distributed)  # type: ignore[method-assign]

    map_run = _patch(DistributedIterationComponent, "_map_run", None)

    def map_run_with_options(self: Any, env: Any, eval_input: Any) -> None:
        options = getattr(self, "_distributed_map_options", None)
        if options is None:
            return map_run(self, env, eval_input)
        record = eval_input.map_run_record
        denial = _child_execution_denial(record.map_state_machine_arn.rsplit("/", 1)[0], record.map_run_arn)
        if denial:
            env.stack.pop()
            raise _map_failure(env, "States.Runtime", denial)
        items: list[Any] = env.stack.pop()
        started = _iso(_dt.datetime.now(_dt.timezone.utc))
        sizes = [1] * len(items)
        if options.get("ItemBatcher"):
            batcher = options["ItemBatcher"]
            template = batcher.get("BatchInput")
            batch_input = None if template is None else _batch_input(
                template, env.states.get_input(), env.states.context_object.context_object_data)
            items = map_batches(items, batcher, batch_input)
            sizes = [len(batch["Items"]) for batch in items]
        pool_box: list[Any] = []
        pool = _tolerant_job_pool(self._get_iteration_program(), items, sizes, options,
                                  lambda: self._launch_worker(env=env, eval_input=eval_input, job_pool=pool_box[0]))
        pool_box.append(pool)
        workers = len(items) if not record.max_concurrency else min(record.max_concurrency, len(items))
        for _ in range(workers):
            self._launch_worker(env=env, eval_input=eval_input, job_pool=pool)
        pool.await_jobs()
        closed = {job.job_index: job.job_output for job in pool.get_closed_jobs() if job.job_index not in pool.failed}
        record._distributed_map_results = {  # type: ignore[attr-defined]
            "started": started, "items": items, "succeeded": closed, "failed": dict(pool.failed),
            "finished_at": dict(pool.finished_at), "execution_type": options.get("ExecutionType", "STANDARD")}
        if pool.exceeded:
            failed_items = sum(sizes[index] for index in pool.failed)
            error, cause = _failure_of(next(iter(pool.failed.values())))
            raise _map_failure(env, "States.ExceedToleratedFailureThreshold",
                               f"{failed_items} of {sum(sizes)} items failed, more than tolerated; the first: "
                               f"{error}: {cause}"[:32_000])
        env.stack.append([closed[index] for index in sorted(closed)])

    DistributedIterationComponent._map_run = map_run_with_options  # type: ignore[method-assign]

    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor.\
        distributed_item_processor_worker import DistributedItemProcessorWorker

    eval_job = _patch(DistributedItemProcessorWorker, "_eval_job", None)

    def eval_job_keeping_failures(self: Any, env: Any, job: Any) -> None:
        if not getattr(self._job_pool, "tolerant", False):
            return eval_job(self, env, job)
        return _run_child(self, env, job)

    DistributedItemProcessorWorker._eval_job = eval_job_keeping_failures  # type: ignore[method-assign]

    from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import \
        resource_eval_s3 as item_reader_s3

    ItemReaderS3 = item_reader_s3.ResourceEvalS3
    _patch(ItemReaderS3, "_handle_list_objects_v2", None)

    def list_every_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        s3 = ItemReaderS3._get_s3_client(resource_runtime_part=resource_runtime_part,
                                         state_credentials=state_credentials)
        parameters = dict(env.stack.pop())
        items: list[dict[str, Any]] = []
        while True:  # every page, as AWS's ItemReader reads them
            response = s3.list_objects_v2(**parameters)
            items.extend(listed_object(item) for item in response.get("Contents", []))
            if not response.get("IsTruncated"):
                break
            parameters["ContinuationToken"] = response["NextContinuationToken"]
        env.stack.append(items)

    ItemReaderS3._handle_list_objects_v2 = staticmethod(list_every_object)  # type: ignore[method-assign]

    put_object = _patch(ResourceEvalS3, "_handle_put_object", None)

    def put_result_files(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        records = env.map_run_record_pool_manager.get_all()
        results = getattr(records[-1], "_distributed_map_results", None) if records else None
        if results is None:
            return put_object(env, resource_runtime_part, state_credentials)
        record = records[-1]
        parameters = env.stack.pop()
        env.stack.pop()
        s3 = ResourceEvalS3._get_s3_client(resource_runtime_part=resource_runtime_part,
                                           state_credentials=state_credentials)
        prefix = parameters.get("Prefix", "")
        prefix = prefix if prefix == "" or prefix.endswith("/") else prefix + "/"
        run_id = record.map_run_arn.rsplit(":", 1)[1]
        files = result_files(results, state_machine_arn=record.map_state_machine_arn,
                             execution_arn=record.execution_arn)
        listed: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status, entries in files.items():
            if not entries:
                continue
            body = json.dumps(entries).encode()
            key = f"{prefix}{run_id}/{status}_0.json"
            s3.put_object(Bucket=parameters["Bucket"], Key=key, Body=body)
            listed[status].append({"Key": key, "Size": len(body)})
        manifest_key = f"{prefix}{run_id}/manifest.json"
        s3.put_object(Bucket=parameters["Bucket"], Key=manifest_key, Body=json.dumps(
            {"DestinationBucket": parameters["Bucket"], "MapRunArn": record.map_run_arn,
             "ResultFiles": listed}, indent=2).encode())
        env.stack.append({"MapRunArn": record.map_run_arn,
                          "ResultWriterDetails": {"Bucket": parameters["Bucket"], "Key": manifest_key}})

    ResourceEvalS3._handle_put_object = staticmethod(put_result_files)  # type: ignore[method-assign]


def result_files(results: Mapping[str, Any], *, state_machine_arn: str, execution_arn: str,
                 ) -> dict[str, list[dict[str, Any]]]:
    """The children as AWS's ResultWriter lists them: one record per child execution, by status."""
    files: dict[str, list[dict[str, Any]]] = {"SUCCEEDED": [], "FAILED": []}
    execution = state_machine_arn.replace(":stateMachine:", ":express:" if results["execution_type"] == "EXPRESS"
                                          else ":execution:", 1)
    for index, child_input in enumerate(results["items"]):
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{execution_arn}#{index}"))
        entry: dict[str, Any] = {
            "ExecutionArn": f"{execution}:{name}", "Input": json.dumps(child_input), "InputDetails": {"Included": True},
            "Name": name, "RedriveCount": 0, "RedriveStatus": "NOT_REDRIVABLE", "StartDate": results["started"],
            "StateMachineArn": state_machine_arn, "StopDate": results["finished_at"].get(index, results["started"])}
        if index in results["failed"]:
            error, cause = _failure_of(results["failed"][index])
            entry.update(Status="FAILED", Error=error, Cause=cause)
            files["FAILED"].append(entry)
        elif index in results["succeeded"]:
            entry.update(Status="SUCCEEDED", Output=json.dumps(results["succeeded"][index]),
                         OutputDetails={"Included": True})
            files["SUCCEEDED"].append(entry)
    return files


# --------------------------------------------------------------------------------------------------------------
# Principals: Step Functions' engine calls other services as the state machine's role.
# --------------------------------------------------------------------------------------------------------------

def install_principals() -> None:
    """An execution's service integrations (Lambda invoke, ECS RunTask, aws-sdk calls) act as the state
    machine's role, as in AWS; the engine's threads inherit it (iam.acting_as)."""
    from moto.stepfunctions.parser.backend.execution import Execution

    start = _patch(Execution, "start", None)

    def start_as_role(self: Any) -> None:
        with iam.acting_as(self.role_arn):
            start(self)

    Execution.start = start_as_role  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# S3 requests a browser makes: POST uploads with a signed policy, presigned links.
# --------------------------------------------------------------------------------------------------------------

def _s3_error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            "</Error>")
    return status, {"Content-Type": "application/xml"}, body


def _hmac(key: bytes, text: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def post_policy_problem(bucket: str, fields: Mapping[str, str], size: int, secrets: Mapping[str, str],
                        now: float | None = None) -> tuple[int, str, str] | None:
    """Why S3 refuses a browser POST upload (status, code, message), or None: a signed policy is required, its
    SigV4 signature must verify, it must not have expired, and every form field must meet its conditions and
    every condition be met (S3 User Guide, "Creating a POST policy")."""
    import hashlib
    import hmac

    fields = {name.lower(): value for name, value in fields.items()}
    policy_b64 = fields.get("policy")
    if not policy_b64:
        return 403, "AccessDenied", "Anonymous POST uploads are not allowed on this bucket"
    credential = fields.get("x-amz-credential", "")
    access_key, _, scope = credential.partition("/")
    secret = secrets.get(access_key)
    date, region, service = (scope.split("/") + ["", "", ""])[:3]
    if secret is None or fields.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        return 403, "InvalidAccessKeyId", "The AWS access key Id you provided does not exist in our records."
    key = _hmac(_hmac(_hmac(_hmac(f"AWS4{secret}".encode(), date), region), service), "aws4_request")
    expected = hmac.new(key, policy_b64.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("x-amz-signature", "")):
        return 403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."
    policy = json.loads(base64.b64decode(policy_b64))
    expires = _dt.datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=_dt.timezone.utc)
    if (now if now is not None else time.time()) > expires.timestamp():
        return 403, "AccessDenied", "Invalid according to Policy: Policy expired."
    values = {**fields, "bucket": bucket}
    covered = {"policy", "x-amz-signature", "file"}
    for condition in policy.get("conditions", []):
        if isinstance(condition, dict):
            [(name, wanted)] = condition.items()
            condition = ["eq", f"${name}", wanted]
        operator, name = condition[0].lower(), str(condition[1])
        if operator == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size < low:
                return 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
            if size > high:
                return 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            continue
        field_name = name.lstrip("$").lower()
        covered.add(field_name)
        actual, wanted = values.get(field_name, ""), str(condition[2])
        if not (actual == wanted if operator == "eq" else actual.startswith(wanted)):
            return 403, "AccessDenied", f"Invalid according to Policy: Policy Condition failed: {json.dumps(condition)}"
    extra = sorted(name for name in fields if name not in covered and not name.startswith("x-ignore-"))
    if extra:
        return 403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {extra[0]}"
    return None


def install_post_policy(*, secrets: Mapping[str, str], signer_roles: Mapping[str, str] | None = None) -> None:
    """moto stores any POST upload, without checking its policy or its signature: check both as S3 does
    (`post_policy_problem`), and authorize s3:PutObject on the key as the role whose credentials signed it (a
    presigned request acts with its signer's permissions)."""
    from moto.s3.responses import S3Response

    original = _patch(S3Response, "_bucket_response_post", None)
    roles = dict(signer_roles or {})

    def bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
        if self.is_delete_keys() or "uploads" in self.querystring:
            return original(self, request, bucket_name)
        form = getattr(self, "form_data", None)
        fields = ({name: form.get(name) for name in form.keys()} if form else  # the form's own fields only
                  {name: values[0] for name, values in self.querystring.items() if values and name != "bucketname"})
        fields.pop("file", None)
        problem = post_policy_problem(bucket_name, fields, len(self.body or b""), secrets)
        if problem:
            return _s3_error(*problem)
        access_key = fields.get("x-amz-credential", fields.get("X-Amz-Credential", "")).partition("/")[0]
        role = roles.get(access_key)
        if role is not None:
            request_ = iam_policy.Request("s3:PutObject", f"arn:aws:s3:::{bucket_name}/{fields.get('key', '')}")
            if not iam.allows(role, request_):
                return _s3_error(403, "AccessDenied", f"{role} is not authorized to perform: s3:PutObject")
        return original(self, request, bucket_name)

    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]


def presigned_url_expired(query: Mapping[str, list[str]], now: float | None = None) -> bool:
    """A presigned URL past its X-Amz-Date + X-Amz-Expires (SigV4), or its Expires (SigV2)."""
    now = time.time() if now is None else now
    if "X-Amz-Date" in query and "X-Amz-Expires" in query:
        signed = _dt.datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=_dt.timezone.utc)
        return now > signed.timestamp() + int(query["X-Amz-Expires"][0])
    if "Expires" in query and "Signature" in query:
        return now > int(query["Expires"][0])
    return False


def install_presigned_url_expiry() -> None:
    """moto serves a presigned URL forever: refuse it once expired, as S3 does (403 AccessDenied)."""
    from urllib.parse import parse_qs, urlparse

    from moto.s3.responses import S3Response

    original = _patch(S3Response, "_key_response", None)

    def key_response(self: Any, request: Any, full_url: str) -> Any:
        if presigned_url_expired(parse_qs(urlparse(full_url).query)):
            return _s3_error(403, "AccessDenied", "Request has expired")
        return original(self, request, full_url)

    S3Response._key_response = key_response  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# Speed: moto's own per-call costs, removed without changing any answer.
# --------------------------------------------------------------------------------------------------------------

_PROGRAMS_KEPT = 16
_programs: dict[str, Any] = {}  # definition text -> parsed program (the newest _PROGRAMS_KEPT)
_sfn_clients: dict[tuple[Any, ...], Any] = {}


class _Changes:
    """Writes to emulated tables and events added to executions' histories, for waiters that would otherwise poll
    (`wait_for_change`, `changed_keys`)."""

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.sequence = 0
        self.keys: dict[str, int] = {}  # "MEDIA#<id>" or an execution ARN -> the sequence of its last change

    def touch(self, key: str) -> None:
        with self.condition:
            self.sequence += 1
            self.keys[key] = self.sequence
            self.condition.notify_all()


_changes = _Changes()


def change_sequence() -> int:
    """How many changes (table writes, history events) the emulator has made: pass it to `wait_for_change`."""
    with _changes.condition:
        return _changes.sequence


def wait_for_change(after: int, key: str | None = None, timeout: float = 1.0) -> int:
    """Block until a change after sequence `after` (to `key`, a partition key or an execution ARN, if given), or
    until the timeout; returns the sequence now. Waiters call this instead of sleeping between reads: they wake at
    once when the item they wait for is written, and the emulator serves no reads in between."""
    deadline = time.monotonic() + timeout
    with _changes.condition:
        while True:
            written = _changes.keys.get(key, 0) if key is not None else _changes.sequence
            remaining = deadline - time.monotonic()
            if written > after or remaining <= 0:
                return _changes.sequence
            _changes.condition.wait(remaining)


def changed_keys(after: int) -> set[str]:
    """The keys written after sequence `after`: partition keys of table items ("MEDIA#<id>") and the ARNs of
    executions whose history grew."""
    with _changes.condition:
        return {key for key, sequence in _changes.keys.items() if sequence > after}


def _partition_key(item: Any) -> str | None:
    """The string partition key of a DynamoDB key or item in its wire form ({"pk": {"S": "MEDIA#..."}})."""
    if isinstance(item, Mapping):
        for value in item.values():
            if isinstance(value, Mapping) and isinstance(value.get("S"), str):
                return value["S"]
    return None


def history_json(output: Mapping[str, Any]) -> dict[str, Any]:
    """GetExecutionHistory's output as moto's serializer writes it, without walking the model for every member of
    every event: members that are None left out, each event's timestamp (the shape's one timestamp member, an ISO
    string in moto's events) in epoch seconds."""
    def plain(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: plain(item) for key, item in value.items() if item is not None}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    events = []
    for event in output.get("events") or []:
        event = plain(event)
        if "timestamp" in event:
            event["timestamp"] = _epoch(event["timestamp"])
        events.append(event)
    return {**plain({k: v for k, v in output.items() if k != "events"}), "events": events}


def _epoch(value: Any) -> Any:
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if not isinstance(value, _dt.datetime):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    seconds = round(value.timestamp(), 3)
    return int(seconds) if seconds == int(seconds) else seconds


def install_speedups() -> None:
    """moto's own costs, which AWS has no counterpart of, removed without changing any answer (docs/local-mode.md,
    "Speed"). They are most of the emulator's time per item:

    - Step Functions builds a new boto3 client, and opens a new connection, for every Lambda invocation and
      service integration: one client per (service, region, endpoint) is kept (boto3 clients are thread-safe);
    - Step Functions parses the definition with ANTLR for every execution: the parsed program is kept per
      definition text. A program holds no execution's state (a Map's iterations already share one); its components'
      heap keys (retry counters in each execution's own heap) are set atomically so that sharing cannot race;
    - the server lists moto's package folder on disk for every request it routes: listed once;
    - a write to a table, or an event added to an execution's history, wakes whoever waits for it
      (`wait_for_change`, `changed_keys`), so the local runtime and the CLI need not poll;
    - botocore builds a new ServiceModel and a new client class (a function and a docstring per operation) for
      every client, and the local mode makes many: each emulated Lambda sandbox has its own clients, as in AWS
      (270 in a 40-item batch). Clients made from one session share one ServiceModel and one class per service
      (`share_client_models`); each still has its own configuration, endpoint, event hooks and retry state.
    """
    import moto.backends as moto_backends
    from moto.dynamodb.models import DynamoDBBackend
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent
    from moto.stepfunctions.parser.asl.utils import boto_client
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker
    from moto.stepfunctions.parser.utils import long_uid

    with _lock:
        if (id(ExecutionWorker), "_get_evaluation_entrypoint") in _patches:
            return

    new_client = boto_client.boto_client_for

    def kept_client(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        key = (region, service, botocore_stubber.enabled, moto_server_port())
        with _lock:
            client = _sfn_clients.get(key)
            if client is None:  # its requests reach the emulator in-process (install_direct_requests or mock_aws)
                client = _sfn_clients[key] = new_client(region, service, state_credentials)
            return client

    import importlib
    import sys

    importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")  # every state's module, imported
    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) is new_client:
            _patch(module, "boto_client_for", kept_client)

    entrypoint = ExecutionWorker._get_evaluation_entrypoint

    def kept_program(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        with _lock:
            program = _programs.get(definition)
        if program is None:
            program = entrypoint(self)
            with _lock:
                _programs[definition] = program
                while len(_programs) > _PROGRAMS_KEPT:
                    _programs.pop(next(iter(_programs)))
        return program

    _patch(ExecutionWorker, "_get_evaluation_entrypoint", kept_program)

    def heap_key(self: Any) -> str:  # moto sets it on first use, unguarded: two executions could set two keys
        key = self.__dict__.get("_media_pipeline_heap_key")
        return key if key is not None else self.__dict__.setdefault("_media_pipeline_heap_key", long_uid())

    _patch(EvalComponent, "heap_key", property(heap_key))

    from moto.stepfunctions.responses import StepFunctionResponse

    serialized = StepFunctionResponse.serialized

    def history_as_json(self: Any, action_result: Any) -> Any:
        result = action_result.result
        if self._get_action() != "GetExecutionHistory" or not isinstance(result, Mapping):
            return serialized(self, action_result)
        return 200, {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}, \
            json.dumps(history_json(result), separators=(",", ":"))

    _patch(StepFunctionResponse, "serialized", history_as_json)

    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager

    environment_init = Environment.__init__

    def tagged_environment(self: Any, *args: Any, **kwargs: Any) -> None:
        environment_init(self, *args, **kwargs)
        context = kwargs.get("context") if "context" in kwargs else args[2] if len(args) > 2 else None
        self.event_manager._change_key = (context or {}).get("Execution", {}).get("Id")

    _patch(Environment, "__init__", tagged_environment)
    add_event = EventManager.add_event

    def noted_event(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return add_event(self, *args, **kwargs)
        finally:
            key = getattr(self, "_change_key", None)
            if key:
                _changes.touch(key)

    _patch(EventManager, "add_event", noted_event)

    modules = tuple(moto_backends.list_of_moto_modules())
    _patch(moto_backends, "list_of_moto_modules", lambda: modules)
    share_client_models()

    for method in ("put_item", "update_item", "delete_item"):
        def noting(self: Any, table_name: str, *args: Any, _original: Any = getattr(DynamoDBBackend, method),
                   **kwargs: Any) -> Any:
            try:
                return _original(self, table_name, *args, **kwargs)
            finally:
                written = kwargs.get("key") or kwargs.get("item_attrs") or (args[0] if args else None)
                _changes.touch(_partition_key(written) or table_name)

        _patch(DynamoDBBackend, method, noting)


def share_client_models() -> None:
    """Clients made by one botocore session share its ServiceModel and its client class per service (see
    `install_speedups`). botocore emits `creating-client-class` when it builds a class: a handler a session gets
    after its first client of a service does not reach that service's class (the local mode registers none)."""
    import weakref

    from botocore.client import ClientCreator

    models: Any = weakref.WeakKeyDictionary()  # a session's loader -> {(service, api version): ServiceModel}
    classes: Any = weakref.WeakKeyDictionary()  # a session's event emitter -> {(service, id(model)): (model, class)}
    load_model, make_class = ClientCreator._load_service_model, ClientCreator._create_client_class

    def shared_model(self: Any, service_name: str, api_version: str | None = None) -> Any:
        key = (service_name, api_version)
        with _lock:
            model = models.setdefault(self._loader, {}).get(key)
        if model is None:
            model = load_model(self, service_name, api_version)
            with _lock:
                model = models[self._loader].setdefault(key, model)
        return model

    def shared_class(self: Any, service_name: str, service_model: Any) -> Any:
        key = (service_name, id(service_model))  # the entry holds the model: its id is not reused while kept
        with _lock:
            kept = classes.setdefault(self._event_emitter, {}).get(key)
        if kept is None:
            made = make_class(self, service_name, service_model)
            with _lock:
                kept = classes[self._event_emitter].setdefault(key, (service_model, made))
        return kept[1]

    _patch(ClientCreator, "_load_service_model", shared_model)
    _patch(ClientCreator, "_create_client_class", shared_class)


def _server_environ(request: Any, body: bytes, server_address: tuple[str, int]) -> dict[str, Any]:
    """The WSGI environ the emulator's server (werkzeug's WSGIRequestHandler with moto's MotoRequestHandler) makes
    of this request: the same keys, header folding and preserved header names."""
    import io
    import sys
    from urllib.parse import unquote, urlsplit

    from moto.core.request import (PRESERVED_HEADER_NAMES_ENVIRON_KEY, environ_key_for_header,
                                   should_preserve_original_header_name)
    from werkzeug._internal import _wsgi_encoding_dance

    url = urlsplit(request.url)
    target = url.path + (f"?{url.query}" if url.query else "")
    environ: dict[str, Any] = {
        "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
        "SERVER_SOFTWARE": "Werkzeug", "REQUEST_METHOD": request.method, "SCRIPT_NAME": "",
        "PATH_INFO": _wsgi_encoding_dance(unquote(url.path)), "QUERY_STRING": _wsgi_encoding_dance(url.query),
        "REQUEST_URI": _wsgi_encoding_dance(target), "RAW_URI": _wsgi_encoding_dance(target),
        "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": 0, "SERVER_NAME": server_address[0],
        "SERVER_PORT": str(server_address[1]), "SERVER_PROTOCOL": "HTTP/1.1",
    }
    headers = [(name, value.decode("latin-1") if isinstance(value, bytes) else str(value))
               for name, value in request.headers.items()]
    if not any(name.lower() == "host" for name, _ in headers):  # what http.client sends
        headers.append(("Host", url.netloc))
    if body or request.method in ("POST", "PUT", "PATCH"):
        headers = [(n, v) for n, v in headers if n.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(body))))
    for name, value in headers:
        if "_" in name:
            continue
        key = name.upper().replace("-", "_")
        value = value.replace("\r\n", "")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = f"HTTP_{key}"
            if key in environ:
                value = f"{environ[key]},{value}"
        environ[key] = value
    dashed = {environ_key_for_header(name) for name, _ in headers if "_" not in name}
    names: dict[str, str] = {}
    values: dict[str, list[str]] = {}
    for name, value in headers:
        if should_preserve_original_header_name(name):
            key = environ_key_for_header(name)
            if key not in dashed:
                names.setdefault(key, name)
                values.setdefault(key, []).append(value.replace("\r\n", ""))
    for key, key_values in values.items():
        environ[key] = ",".join(key_values)
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = names
    return environ


def _request_body(request: Any) -> bytes:
    body = request.body
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)
    if hasattr(body, "read"):
        return body.read()
    return b"".join(chunk.encode("utf-8") if isinstance(chunk, str) else chunk for chunk in body)


def install_direct_requests(server: "EmulatorServer") -> None:
    """Requests to the emulator's server from its own process (the functions, Step Functions, the local runtime)
    are handed to the server's WSGI application directly, in a fresh context as on a server thread, instead of
    through a socket: werkzeug's server closes every connection, so each request otherwise costs a TCP connection
    and a thread. The same application answers, with the same environ; processes of their own (the video worker)
    and browsers still use HTTP."""
    from botocore.awsrequest import AWSResponse
    from botocore.httpsession import URLLib3Session
    from moto.core.botocore_stubber import MockRawResponse
    from werkzeug.test import run_wsgi_app

    app = server.server._server.app
    address = server.server._server.server_address[:2]
    # the endpoint, and moto's Step Functions engine's own address for it (http://localhost:$MOTO_PORT)
    prefixes = tuple({server.endpoint_url.rstrip("/") + "/", f"http://localhost:{address[1]}/",
                      f"http://127.0.0.1:{address[1]}/"})
    send = _patch(URLLib3Session, "send", None)

    def call_app(request: Any) -> Any:
        environ = _server_environ(request, _request_body(request), address)
        try:
            app_iter, status, headers = run_wsgi_app(app, environ, buffered=True)
        except Exception:  # noqa: BLE001 - what werkzeug's server answers when the application raises
            log.exception("the emulator failed on %s %s", request.method, request.url)
            return AWSResponse(request.url, 500, {"Content-Type": "text/plain"},
                               MockRawResponse(b"Internal Server Error"))
        try:
            body = b"" if request.method == "HEAD" else b"".join(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        folded: dict[str, str] = {}
        for name, value in headers.items():
            folded[name] = f"{folded[name]},{value}" if name in folded else value
        return AWSResponse(request.url, int(status.split(" ", 1)[0]), folded, MockRawResponse(body))

    def send_direct(self: Any, request: Any) -> Any:
        if request.url.startswith(prefixes):
            import contextvars

            return contextvars.Context().run(call_app, request)  # a server thread's context: no principal
        return send(self, request)

    URLLib3Session.send = send_direct  # type: ignore[method-assign]


# --------------------------------------------------------------------------------------------------------------
# The emulator as a server (separate processes, such as the video worker, reach it over HTTP).
# --------------------------------------------------------------------------------------------------------------

@dataclass
class EmulatorServer:
    endpoint_url: str
    server: Any

    def stop(self) -> None:
        self.server.stop()


def apply_config(config: Mapping[str, Any] = MOTO_CONFIG) -> None:
    """Apply a moto configuration to this process (mock_aws(config=...) does this for in-process mocks)."""
    from moto.core.config import default_user_config

    for section, values in config.items():
        default_user_config.setdefault(section, {}).update(values)  # type: ignore[misc]


def start_server(host: str = "127.0.0.1", port: int = 0) -> EmulatorServer:
    """Start moto as an HTTP server on a thread of this process (the patches above apply to it too).

    moto's Step Functions engine calls the other services at http://localhost:$MOTO_PORT when it is not inside
    mock_aws, whatever port the server listens on: MOTO_PORT is set to the server's port.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one access-log line per request otherwise
    apply_config()
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()  # moto's backends are process-wide: a new server starts from an empty account
    server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
    server.start()
    bound_host, bound_port = server.get_host_and_port()
    os.environ["MOTO_PORT"] = str(bound_port)
    return EmulatorServer(endpoint_url=f"http://{bound_host}:{bound_port}", server=server)


def install_all(*, handlers: Mapping[str, LambdaHandler] | None = None, transcribe: TranscribeEngine | None = None,
                textract: TextractEngine | None = None, bedrock: BedrockEngine | None = None,
                comprehend_language: ComprehendLanguageEngine | None = None,
                comprehend_pii: ComprehendPiiEngine | None = None,
                task_runners: Mapping[str, TaskRunner] | None = None) -> None:
    """Every workaround at once (the local runtime's entry point)."""
    install_lambda_runtime(handlers or {})
    install_task_callbacks()
    install_event_delivery()
    install_ai_engines(transcribe=transcribe, textract=textract, bedrock=bedrock, comprehend_language=comprehend_language,
                       comprehend_pii=comprehend_pii)
    install_task_runner(task_runners or {})
    install_message_move_tasks()
    from media_pipeline.local import limits

    limits.install_limits()


__all__ = [
    "MOTO_CONFIG", "MOTO_VERSION", "EmulatorServer", "EngineError", "LambdaContext", "apply_config",
    "install_ai_engines", "install_all", "install_distributed_map", "install_capacity", "install_event_delivery", "install_execution_events",
    "install_lambda_runtime", "install_message_move_tasks", "install_post_policy", "install_presigned_url_expiry",
    "express_execution_log", "install_express_executions", "install_schedules", "install_stop_execution", "install_task_callbacks", "install_task_runner",
    "change_sequence", "changed_keys", "install_direct_requests", "install_speedups", "lambda_error_payload", "start_server", "wait_for_change", "uninstall", "wait_for_background_work",
]
