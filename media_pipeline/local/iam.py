"""IAM in the emulator: every AWS call made on behalf of a role is authorized against that role's policies from
the synthesized template (media_pipeline/local/deployment.py), and fails as AWS fails it when not allowed.

- Who calls: `acting_as(role_arn)` sets the calling principal for the current thread and every thread it starts
  (the Lambda runtime sets the function's role, Step Functions' engine the state machine's role, the ECS runner
  the task role). Calls with no principal are the account owner's (the tests and the CLI setting things up).
- What a call needs (iam_operations.py): `requirements()` turns a client operation and its parameters into (action, resource,
  condition keys): the operation's own action where the service authorizes it one to one, and the documented
  exceptions (S3's object and multipart operations, Converse, Invoke, services that act with the caller's
  permissions, iam:PassRole for roles handed to services). An operation it does not know fails loudly.
- How it is decided (iam_policy.py): an explicit Deny wins, then an Allow whose Action, Resource and Condition match.
- S3's answer for a missing key: 403, not 404, when the caller may not s3:ListBucket.

Every decision is recorded (`decisions()`), so the tests can require no denial and the IAM report
(`python -m media_pipeline.local.iam_report`) can compare what each role used with what it was granted.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import os
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping

from media_pipeline.local.iam_operations import (ENGINE_INTERNAL_OPERATIONS, Call, requirements,
                                                  set_partition_keys, set_task_definition_roles,
                                                  set_token_state_machine)
from media_pipeline.local.iam_operations import reset as reset_operations
from media_pipeline.local.iam_policy import Request, UnmappedOperation, evaluate, granting, principal_matches

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("emulated_principal", default=None)
_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    principal: str
    operation: str
    request: Request
    allowed: bool
    reason: str
    grants: tuple[tuple[int, str], ...] = ()  # (statement index, action pattern) of each Allow that matched


@dataclass
class Principal:
    arn: str
    statements: list[dict[str, Any]]
    trusted_services: list[str] = field(default_factory=list)



_principals: dict[str, Principal] = {}
# The most recent decisions (a long-running local mode must not grow without end; tests clear them per test).
_decisions: deque[Decision] = deque(maxlen=100_000)


# --------------------------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------------------------

def register(principals: Mapping[str, Principal], *, token_state_machine: Callable[[str], str | None] | None = None,
             ) -> None:
    """The roles enforced in this process, by ARN (and how to find the state machine of a task token)."""
    with _lock:
        _principals.update(principals)
    if token_state_machine is not None:
        set_token_state_machine(token_state_machine)


def forget() -> None:
    with _lock:
        _principals.clear()
        _decisions.clear()
        _caller_roles.clear()
        _resource_policies.clear()
    reset_operations()


def principal_for(role_arn: str | None) -> Principal | None:
    return _principals.get(role_arn or "")


def current() -> str | None:
    return _principal.get()


_caller_roles: dict[str, str] = {}


def attribute_by_caller(roles: Mapping[str, str]) -> None:
    """For tests that call handlers directly: a call made from code whose file path contains a key (such as
    `/functions/ingest/`) acts as that key's role, as if the function's runtime had set it."""
    _caller_roles.update(roles)


def _caller_role() -> str | None:
    if not _caller_roles:
        return None
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename
        for fragment, role in _caller_roles.items():
            if fragment in path:
                return role
        frame = frame.f_back
    return None


@contextlib.contextmanager
def acting_as(role_arn: str | None) -> Iterator[None]:
    token = _principal.set(role_arn)
    try:
        yield
    finally:
        _principal.reset(token)


def decisions() -> list[Decision]:
    with _lock:
        return list(_decisions)


def denials() -> list[Decision]:
    return [d for d in decisions() if not d.allowed]


def clear_decisions() -> None:
    with _lock:
        _decisions.clear()


# Set, every decision is also appended to this file as a JSON line (the IAM report reads it).
LOG_VARIABLE = "MEDIA_PIPELINE_IAM_LOG"
_expecting_denials = threading.Event()


@contextlib.contextmanager
def denials_expected() -> Iterator[None]:
    """A test that provokes denials on purpose: they are logged as expected, and the IAM report sets them apart."""
    _expecting_denials.set()
    try:
        yield
    finally:
        _expecting_denials.clear()


def _record(decision: Decision) -> None:
    with _lock:
        _decisions.append(decision)
    log_file = os.environ.get(LOG_VARIABLE)
    if log_file:
        line = json.dumps({"principal": decision.principal, "operation": decision.operation,
                           "action": decision.request.action, "resource": decision.request.resource,
                           "context": dict(decision.request.context), "allowed": decision.allowed,
                           "reason": decision.reason, "grants": [list(g) for g in decision.grants],
                           "expected": _expecting_denials.is_set()})
        with open(log_file, "a", encoding="utf-8") as out:  # one short append per line: safe across processes
            out.write(line + "\n")


# --------------------------------------------------------------------------------------------------------------
# Policy evaluation
# --------------------------------------------------------------------------------------------------------------

def allows(role_arn: str, request: Request) -> bool:
    principal = principal_for(role_arn)
    return principal is not None and evaluate(principal.statements, request)[0]


def service_may(role_arn: str | None, service: str, request: Request) -> bool:
    """A service acting through a role it was handed (Textract publishing to SNS): the role must trust the service
    and allow the request. Recorded like a call; with IAM not enforced, always True."""
    if not _principals:
        return True
    principal = principal_for(role_arn)
    if principal is None or service not in principal.trusted_services:
        reason = f"because the role does not exist or does not trust {service}"
        _record(Decision(role_arn or "(none)", f"{service}:AssumeRole", request, False, reason))
        return False
    allowed, reason = evaluate(principal.statements, request)
    _record(Decision(role_arn or "", f"{service}:{request.action}", request, allowed, reason,
                     granting(principal.statements, request) if allowed else ()))
    return allowed


_resource_policies: dict[str, list[dict[str, Any]]] = {}


def service_may_deliver(service: str, source_arn: str, action: str, resource: str) -> bool:
    """A service delivering to a resource (EventBridge to a queue or a function, SNS to a function) needs the
    resource's own policy to allow it, for that source (a Lambda permission, a queue policy). Recorded like a
    call; with IAM not enforced, always True."""
    if not _principals:
        return True
    account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else ""
    request = Request(action, resource, {"aws:SourceArn": source_arn, "aws:SourceAccount": account,
                                         "aws:SecureTransport": "true"})
    statements = [s for s in _resource_policies.get(resource, []) if principal_matches(s.get("Principal"), service)]
    allowed, reason = evaluate(statements, request)
    if not allowed and not statements:
        reason = f"because the resource's policy has no statement for {service}"
    _record(Decision(f"service/{service}", f"{service}:deliver", request, allowed,
                     reason.replace("identity-based", "resource-based")))
    return allowed


def denial_message(role_arn: str, request: Request, reason: str) -> str:
    role_name = role_arn.rsplit("/", 1)[-1]
    account = role_arn.split(":")[4]
    return (f"User: arn:aws:sts::{account}:assumed-role/{role_name}/emulated is not authorized to perform: "
            f"{request.action} on resource: {request.resource} {reason}")


# --------------------------------------------------------------------------------------------------------------
# Operations -> authorization requests
# --------------------------------------------------------------------------------------------------------------

def authorize(role_arn: str, call: Call) -> tuple[Request, str] | None:
    """The first request of the call the role may not make, with the reason; None when all are allowed."""
    principal = principal_for(role_arn)
    if principal is None:
        return None
    if (call.service, call.operation) in ENGINE_INTERNAL_OPERATIONS and "states.amazonaws.com" in principal.trusted_services:
        return None
    try:
        needed = requirements(call)
    except UnmappedOperation as exc:
        request = Request(f"{call.service}:{call.operation}", "?")
        _record(Decision(role_arn, f"{call.service}:{call.operation}", request, False, f"unmapped operation {exc}"))
        raise
    denied = None
    for request in needed:
        allowed, reason = evaluate(principal.statements, request)
        _record(Decision(role_arn, f"{call.service}:{call.operation}", request, allowed, reason,
                         granting(principal.statements, request) if allowed else ()))
        if not allowed and denied is None:
            denied = (request, reason)
    return denied


# --------------------------------------------------------------------------------------------------------------
# Enforcement in botocore: every client call in this process (and threads it starts) is authorized first.
# --------------------------------------------------------------------------------------------------------------

_installed: dict[str, Any] = {}
# Services whose AccessDenied answer is `AccessDenied` (XML and query protocols) rather than `...Exception`.
_PLAIN_ACCESS_DENIED = {"s3", "sqs", "sns", "iam", "sts"}
_NOT_FOUND = {"NoSuchKey", "404", "NotFound", "NoSuchVersion"}


def _access_denied(client: Any, operation: str, message: str) -> Exception:
    service = client.meta.service_model.service_name
    if service == "s3" and operation == "HeadObject":  # HEAD responses have no body: S3 says only 403
        code, message, status = "403", "Forbidden", 403
    else:
        code = "AccessDenied" if service in _PLAIN_ACCESS_DENIED else "AccessDeniedException"
        status = 403 if service in ("s3", "lambda", "sqs", "sns", "iam") else 400
    response = {"Error": {"Code": code, "Message": message},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}
    return client.exceptions.from_code(code)(response, operation)


def _make_call(client: Any, role: str, operation: str, params: Mapping[str, Any]) -> Call:
    meta = client.meta
    account = role.split(":")[4] if role.startswith("arn:") else "123456789012"
    return Call(service=meta.service_model.service_name, operation=operation, params=params,
                region=meta.region_name or "us-east-1", account=account)


def _missing_key_as_403(client: Any, role: str, call: Call, error: Exception) -> Exception | None:
    """S3 answers 403 for a missing key when the caller may not list the bucket (S3 API reference, GetObject)."""
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    if call.service != "s3" or call.operation not in ("GetObject", "HeadObject") or code not in _NOT_FOUND:
        return None
    listing = Request("s3:ListBucket", f"arn:aws:s3:::{call.params.get('Bucket', '')}",
                      {"s3:prefix": call.params.get("Key", "")})
    if allows(role, listing):
        return None
    return _access_denied(client, call.operation, "Access Denied")  # S3's words: it names no key it keeps secret


def install(thread_inheritance: bool = True) -> None:
    """Authorize every botocore call made while a registered principal is acting; idempotent."""
    from botocore.client import BaseClient

    with _lock:
        if "make_api_call" in _installed:
            return
        original = BaseClient._make_api_call
        _installed["make_api_call"] = original

    def make_api_call(self: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        role = current() or _caller_role()
        if role is None or principal_for(role) is None:
            return original(self, operation_name, api_params)
        call = _make_call(self, role, operation_name, api_params)
        denied = authorize(role, call)
        if denied is not None:
            request, reason = denied
            raise _access_denied(self, operation_name, denial_message(role, request, reason))
        try:
            return original(self, operation_name, api_params)
        except Exception as exc:
            replaced = _missing_key_as_403(self, role, call, exc)
            if replaced is not None:
                raise replaced from None
            raise

    BaseClient._make_api_call = make_api_call  # type: ignore[method-assign]
    if thread_inheritance:
        _inherit_in_threads()


def _inherit_in_threads() -> None:
    """A thread started while a principal acts acts as it too (s3transfer's pools, heartbeats, engine threads)."""
    start = threading.Thread.start
    _installed["thread_start"] = start

    def start_with_principal(self: threading.Thread) -> None:
        if _principal.get() is not None:
            context = contextvars.copy_context()
            run = self.run
            self.run = lambda: context.run(run)  # type: ignore[method-assign]
        start(self)

    threading.Thread.start = start_with_principal  # type: ignore[method-assign]


def uninstall() -> None:
    from botocore.client import BaseClient

    with _lock:
        if "make_api_call" in _installed:
            BaseClient._make_api_call = _installed.pop("make_api_call")  # type: ignore[method-assign]
        if "thread_start" in _installed:
            threading.Thread.start = _installed.pop("thread_start")  # type: ignore[method-assign]
    forget()


# --------------------------------------------------------------------------------------------------------------
# From the deployment snapshot
# --------------------------------------------------------------------------------------------------------------

def register_snapshot(snapshot: Mapping[str, Any], binding: Any, *,
                      token_state_machine: Callable[[str], str | None] | None = None) -> None:
    """Enforce every role of a deployment snapshot, bound to an emulated account (a `deployment.Binding`)."""
    register(principals_from_snapshot(snapshot, binding), token_state_machine=token_state_machine)
    with _lock:
        _resource_policies.update({binding.arn(name): binding.resolve_all(statements)
                                   for name, statements in snapshot.get("resource_policies", {}).items()})
    set_partition_keys({binding.name(name): table["partition_key"] for name, table in snapshot["tables"].items()})
    roles = {binding.arn(name): [binding.arn(spec[kind]) for kind in ("task_role", "execution_role") if spec.get(kind)]
             for name, spec in snapshot["task_definitions"].items()}
    set_task_definition_roles(lambda account, arn: roles.get(arn, ()))


def principals_from_snapshot(snapshot: Mapping[str, Any], binding: Any) -> dict[str, Principal]:
    """Every role of the template, its statements resolved for the emulated account (a `deployment.Binding`)."""
    principals = {}
    for name, role in snapshot["roles"].items():
        arn = binding.arn(name)
        statements = binding.resolve_all(role["statements"])
        principals[arn] = Principal(arn=arn, statements=statements, trusted_services=list(role["trusted_services"]))
    return principals


def explain(decision: Decision) -> str:
    return (f"{decision.principal.rsplit('/', 1)[-1]} {decision.operation}: {decision.request.action} on "
            f"{decision.request.resource}"
            + (f" {json.dumps(dict(decision.request.context))}" if decision.request.context else "")
            + f" ({decision.reason})")
