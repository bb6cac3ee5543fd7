"""IAM in the emulator: every AWS call made on behalf of a role is authorized against that role's policies from
the synthesized template (media_pipeline/local/deployment.py), and fails as AWS fails it when not allowed.

- Who calls: `acting_as(role_arn)` sets the calling principal for the current thread and every thread it starts
  (the Lambda runtime sets the function's role, Step Functions' engine the state machine's role, the ECS runner
  the task role). Calls with no principal are the account owner's (the tests and the CLI setting things up).
- What a call needs: `requirements()` turns a client operation and its parameters into (action, resource,
  condition keys): the operation's own action where the service authorizes it one to one, and the documented
  exceptions (S3's object and multipart operations, Converse, Invoke, services that act with the caller's
  permissions, iam:PassRole for roles handed to services). An operation it does not know fails loudly.
- How it is decided: an explicit Deny wins, then an Allow whose Action, Resource and Condition match.
- S3's answer for a missing key: 403, not 404, when the caller may not s3:ListBucket.

Every decision is recorded (`decisions()`), so the tests can require no denial and the IAM report
(`python -m media_pipeline.local.iam_report`) can compare what each role used with what it was granted.
"""
from __future__ import annotations

import contextlib
import contextvars
import json
import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence
from urllib.parse import unquote, urlparse

_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar("emulated_principal", default=None)
_lock = threading.Lock()


@dataclass(frozen=True)
class Request:
    """One authorization request: what AWS evaluates for a call (a call may need several)."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)  # condition keys: a string, or a list for sets


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


class UnmappedOperation(Exception):
    """An operation the emulator cannot authorize: add it to OPERATIONS (a test fails, never a silent pass)."""


_principals: dict[str, Principal] = {}
_decisions: list[Decision] = []
_token_state_machine: Callable[[str], str | None] = lambda token: None


# --------------------------------------------------------------------------------------------------------------
# Principals
# --------------------------------------------------------------------------------------------------------------

def register(principals: Mapping[str, Principal], *, token_state_machine: Callable[[str], str | None] | None = None,
             ) -> None:
    """The roles enforced in this process, by ARN (and how to find the state machine of a task token)."""
    global _token_state_machine
    with _lock:
        _principals.update(principals)
        if token_state_machine is not None:
            _token_state_machine = token_state_machine


def forget() -> None:
    with _lock:
        _principals.clear()
        _decisions.clear()
        _partition_keys.clear()
        _caller_roles.clear()
        _resource_policies.clear()


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

def _wildcard(pattern: str, value: str, *, case: bool) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case else re.IGNORECASE) is not None


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


_MATCHERS: dict[str, Callable[[str, list[str]], bool]] = {
    "StringEquals": lambda actual, wanted: actual in wanted,
    "ArnEquals": lambda actual, wanted: actual in wanted,
    "StringEqualsIgnoreCase": lambda actual, wanted: actual.lower() in (w.lower() for w in wanted),
    "Bool": lambda actual, wanted: actual.lower() in (w.lower() for w in wanted),
    "StringLike": lambda actual, wanted: any(_wildcard(w, actual, case=True) for w in wanted),
    "ArnLike": lambda actual, wanted: any(_wildcard(w, actual, case=True) for w in wanted),
}


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    qualifier, _, operator = operator.rpartition(":")
    if qualifier:  # ForAllValues / ForAnyValue: the context holds a set of values
        return _set_condition_holds(qualifier, operator, key, expected, context)
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    negated = "Not" in base
    if key not in context:
        return if_exists or negated
    matcher = _MATCHERS.get(base.replace("Not", "", 1))
    if matcher is None:
        raise UnmappedOperation(f"condition operator {operator} is not emulated")
    matched = matcher(str(context[key]), [str(v) for v in _listed(expected)])
    return not matched if negated else matched


def _set_condition_holds(qualifier: str, operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    values = _listed(context.get(key, []))
    if qualifier == "ForAllValues":
        return all(_condition_holds(operator, key, expected, {key: v}) for v in values)
    if qualifier == "ForAnyValue":
        return any(_condition_holds(operator, key, expected, {key: v}) for v in values)
    raise UnmappedOperation(f"condition qualifier {qualifier} is not emulated")


def _statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        if not any(_wildcard(a, request.action, case=False) for a in _listed(statement["Action"])):
            return False
    elif any(_wildcard(a, request.action, case=False) for a in _listed(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(_wildcard(r, request.resource, case=True) for r in _listed(statement["Resource"])):
            return False
    elif any(_wildcard(r, request.resource, case=True) for r in _listed(statement.get("NotResource", []))):
        return False
    return all(_condition_holds(operator, key, expected, request.context)
               for operator, keys in (statement.get("Condition") or {}).items()
               for key, expected in keys.items())


def evaluate(statements: Sequence[Mapping[str, Any]], request: Request) -> tuple[bool, str]:
    """(allowed, reason) as IAM decides for one principal's identity policies: explicit deny, allow, implicit deny."""
    matching = [s for s in statements if _statement_matches(s, request)]
    if any(s.get("Effect") == "Deny" for s in matching):
        return False, "with an explicit deny in an identity-based policy"
    if any(s.get("Effect") == "Allow" for s in matching):
        return True, "allowed"
    return False, f"because no identity-based policy allows the {request.action} action"


def granting(statements: Sequence[Mapping[str, Any]], request: Request) -> tuple[tuple[int, str], ...]:
    """The Allow statements (index, action pattern) that match the request: what the IAM report counts as used."""
    found = []
    for index, statement in enumerate(statements):
        if statement.get("Effect") != "Allow":
            continue
        for action in _listed(statement.get("Action", [])):
            if _statement_matches({**statement, "Action": [action]}, request):
                found.append((index, action))
    return tuple(found)


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


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    return "*" in _listed(principal.get("AWS", [])) or service in _listed(principal.get("Service", []))


def service_may_deliver(service: str, source_arn: str, action: str, resource: str) -> bool:
    """A service delivering to a resource (EventBridge to a queue or a function, SNS to a function) needs the
    resource's own policy to allow it, for that source (a Lambda permission, a queue policy). Recorded like a
    call; with IAM not enforced, always True."""
    if not _principals:
        return True
    account = source_arn.split(":")[4] if source_arn.count(":") >= 5 else ""
    request = Request(action, resource, {"aws:SourceArn": source_arn, "aws:SourceAccount": account,
                                         "aws:SecureTransport": "true"})
    statements = [s for s in _resource_policies.get(resource, []) if _principal_matches(s.get("Principal"), service)]
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

@dataclass(frozen=True)
class Call:
    service: str          # botocore's service name: s3, stepfunctions, bedrock-runtime...
    operation: str        # PascalCase operation name
    params: Mapping[str, Any]
    region: str
    account: str


def _s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_read(bucket: str, key: str, version_id: str | None) -> Request:
    return Request("s3:GetObjectVersion" if version_id else "s3:GetObject", _s3_object(bucket, key))


def _copy_source(source: Any) -> Request:
    if isinstance(source, Mapping):
        return _s3_read(source["Bucket"], source["Key"], source.get("VersionId"))
    path, _, query = str(source).lstrip("/").partition("?")
    bucket, _, key = path.partition("/")
    version = dict(p.split("=", 1) for p in query.split("&") if "=" in p).get("versionId")
    return _s3_read(bucket, unquote(key), version)


def _s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return parsed.netloc, parsed.path.lstrip("/")
    path = unquote(parsed.path.lstrip("/"))
    if parsed.netloc.startswith(("s3.", "s3-")):
        bucket, _, key = path.partition("/")
        return bucket, key
    return parsed.netloc.split(".s3", 1)[0], path


def _s3_requests(call: Call) -> list[Request]:
    """Amazon S3's operations and the permissions they need (S3 User Guide, 'Required permissions for Amazon S3
    API operations'); object ARNs name the key itself, unencoded."""
    p, op = call.params, call.operation
    bucket, key = p.get("Bucket", ""), p.get("Key", "")
    if op in ("GetObject", "HeadObject", "GetObjectAttributes"):
        return [_s3_read(bucket, key, p.get("VersionId"))]
    if op in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        return [Request("s3:PutObject", _s3_object(bucket, key))]
    if op in ("CopyObject", "UploadPartCopy"):
        return [Request("s3:PutObject", _s3_object(bucket, key)), _copy_source(p["CopySource"])]
    if op == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", _s3_object(bucket, key))]
    if op == "ListParts":
        return [Request("s3:ListMultipartUploadParts", _s3_object(bucket, key))]
    if op == "DeleteObject":
        action = "s3:DeleteObjectVersion" if p.get("VersionId") else "s3:DeleteObject"
        return [Request(action, _s3_object(bucket, key))]
    if op == "DeleteObjects":
        return [Request("s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject",
                        _s3_object(bucket, o["Key"])) for o in p["Delete"]["Objects"]]
    if op in ("ListObjects", "ListObjectsV2", "HeadBucket"):
        return [Request("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": p.get("Prefix", "")})]
    if op == "ListObjectVersions":
        return [Request("s3:ListBucketVersions", f"arn:aws:s3:::{bucket}", {"s3:prefix": p.get("Prefix", "")})]
    if op in ("GetObjectTagging", "PutObjectTagging"):
        verb = op[:3]
        action = f"s3:{verb}ObjectVersionTagging" if p.get("VersionId") else f"s3:{verb}ObjectTagging"
        return [Request(action, _s3_object(bucket, key))]
    raise UnmappedOperation(f"s3:{op}")


def _arn(call: Call, service: str, resource: str) -> str:
    return f"arn:aws:{service}:{call.region}:{call.account}:{resource}"


_partition_keys: dict[str, str] = {}


def set_partition_keys(keys: Mapping[str, str]) -> None:
    """Table name -> partition key attribute, for the dynamodb:LeadingKeys condition key."""
    _partition_keys.update(keys)


def _leading_keys(table: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """dynamodb:LeadingKeys: the partition key values an item request touches (a Query's from its key condition)."""
    attribute = _partition_keys.get(table)
    item = body.get("Key") or body.get("Item")
    if attribute is None:
        return {}
    if item is not None and attribute in item:
        return {"dynamodb:LeadingKeys": [next(iter(item[attribute].values()))]}
    expression, values = body.get("KeyConditionExpression", ""), body.get("ExpressionAttributeValues") or {}
    names = {v: k for k, v in (body.get("ExpressionAttributeNames") or {}).items()}
    match = re.search(r"([#\w]+)\s*=\s*(:\w+)", expression)
    if match and names.get(match.group(1), match.group(1)) == attribute and match.group(2) in values:
        return {"dynamodb:LeadingKeys": [next(iter(values[match.group(2)].values()))]}
    return {}


def _dynamodb_requests(call: Call) -> list[Request]:
    if call.operation in ("TransactWriteItems", "TransactGetItems"):
        names = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
                 "Get": "GetItem"}
        return [Request(f"dynamodb:{names[kind]}", _arn(call, "dynamodb", f"table/{body['TableName']}"),
                        _leading_keys(body["TableName"], body))
                for item in call.params["TransactItems"] for kind, body in item.items()]
    if "RequestItems" in call.params:
        return [Request(f"dynamodb:{call.operation}", _arn(call, "dynamodb", f"table/{name}"))
                for name in call.params["RequestItems"]]
    table = call.params["TableName"]
    return [Request(f"dynamodb:{call.operation}", _arn(call, "dynamodb", f"table/{table}"),
                    _leading_keys(table, call.params))]


def _function_arn(call: Call, name: str, qualifier: str | None) -> str:
    if name.startswith("arn:"):
        return name if qualifier is None else f"{name}:{qualifier}"
    base = _arn(call, "lambda", f"function:{name}")
    return base if qualifier is None else f"{base}:{qualifier}"


def _states_requests(call: Call) -> list[Request]:
    p, op = call.params, call.operation
    if op in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # Documented without resource types, but AWS authorizes them on the state machine that issued the
        # token ("not authorized to perform: states:SendTaskSuccess on resource: arn:...:stateMachine:...").
        state_machine = _token_state_machine(p.get("taskToken", "")) or "*"
        return [Request(f"states:{op}", state_machine)]
    if op in ("StartExecution", "StartSyncExecution", "DescribeStateMachine", "ListExecutions"):
        return [Request(f"states:{op}", p["stateMachineArn"])]
    if op in ("DescribeExecution", "StopExecution", "GetExecutionHistory", "RedriveExecution"):
        return [Request(f"states:{op}", p["executionArn"])]
    raise UnmappedOperation(f"states:{op}")


def _transcribe_requests(call: Call) -> list[Request]:
    p, op = call.params, call.operation
    if op == "StartTranscriptionJob":
        name = p["TranscriptionJobName"]
        # Transcribe reads the media and writes the output with the caller's permissions.
        requests = [Request("transcribe:StartTranscriptionJob", _arn(call, "transcribe", f"transcription-job/{name}")),
                    Request("s3:GetObject", _s3_object(*_s3_uri(p["Media"]["MediaFileUri"])))]
        if p.get("OutputBucketName"):
            key = p.get("OutputKey") or f"{name}.json"
            key = f"{key}{name}.json" if key.endswith("/") else key
            requests.append(Request("s3:PutObject", _s3_object(p["OutputBucketName"], key)))
        role = (p.get("JobExecutionSettings") or {}).get("DataAccessRoleArn")
        if role:
            requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "transcribe.amazonaws.com"}))
        return requests
    if op in ("GetTranscriptionJob", "DeleteTranscriptionJob"):
        return [Request(f"transcribe:{op}", _arn(call, "transcribe", f"transcription-job/{p['TranscriptionJobName']}"))]
    raise UnmappedOperation(f"transcribe:{op}")


def _textract_requests(call: Call) -> list[Request]:
    p, op = call.params, call.operation
    if op in ("GetDocumentTextDetection", "GetDocumentAnalysis"):
        return [Request(f"textract:{op}", "*")]
    if op not in ("DetectDocumentText", "AnalyzeDocument", "StartDocumentTextDetection", "StartDocumentAnalysis"):
        raise UnmappedOperation(f"textract:{op}")
    requests = [Request(f"textract:{op}", "*")]  # Textract has no resource-level permissions
    s3_object = (p.get("Document") or p.get("DocumentLocation") or {}).get("S3Object")
    if s3_object:  # Textract reads the document with the caller's permissions
        requests.append(_s3_read(s3_object["Bucket"], s3_object["Name"], s3_object.get("Version")))
    role = (p.get("NotificationChannel") or {}).get("RoleArn")
    if role:
        requests.append(Request("iam:PassRole", role, {"iam:PassedToService": "textract.amazonaws.com"}))
    return requests


def _comprehend_requests(call: Call) -> list[Request]:
    # The synchronous detection APIs on text in the request have no resource-level permissions.
    if call.operation in ("DetectDominantLanguage", "DetectPiiEntities"):
        return [Request(f"comprehend:{call.operation}", "*")]
    raise UnmappedOperation(f"comprehend:{call.operation}")


# Cross-region inference profiles route to these regions; a grant pinned to one region would fail elsewhere.
_PROFILE_REGIONS = {"us": ("us-east-1", "us-west-2"), "eu": ("eu-west-1", "eu-central-1"),
                    "apac": ("ap-northeast-1", "ap-southeast-1"), "global": ("us-east-1", "eu-west-1")}


def bedrock_model_requests(call: Call, model_id: str, action: str = "bedrock:InvokeModel") -> list[Request]:
    """What invoking a model id needs: the foundation model, or the inference profile plus the foundation model in
    the regions the profile routes to (Bedrock user guide, 'Prerequisites for inference profiles')."""
    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[5]
        if resource.startswith("foundation-model/"):
            return [Request(action, model_id)]
        if resource.startswith("inference-profile/"):
            return _profile_requests(call, model_id, resource.split("/", 1)[1], action)
        return [Request(action, model_id)]  # application profiles and provisioned models: the ARN itself
    geography = model_id.split(".", 1)[0]
    if geography in _PROFILE_REGIONS:
        return _profile_requests(call, _arn(call, "bedrock", f"inference-profile/{model_id}"), model_id, action)
    return [Request(action, f"arn:aws:bedrock:{call.region}::foundation-model/{model_id}")]


def _profile_requests(call: Call, profile_arn: str, profile_id: str, action: str) -> list[Request]:
    geography, _, model = profile_id.partition(".")
    regions = _PROFILE_REGIONS.get(geography, (call.region,))
    return [Request(action, profile_arn)] + [
        Request(action, f"arn:aws:bedrock:{region}::foundation-model/{model}", {"bedrock:InferenceProfileArn": profile_arn})
        for region in regions]


def _bedrock_requests(call: Call) -> list[Request]:
    streaming = call.operation in ("ConverseStream", "InvokeModelWithResponseStream")
    if call.operation not in ("Converse", "InvokeModel", "ConverseStream", "InvokeModelWithResponseStream"):
        raise UnmappedOperation(f"bedrock:{call.operation}")
    action = "bedrock:InvokeModelWithResponseStream" if streaming else "bedrock:InvokeModel"
    return bedrock_model_requests(call, call.params["modelId"], action)


def _queue_arn(call: Call) -> str:
    url = call.params.get("QueueUrl", "")
    account, name = urlparse(url).path.strip("/").split("/")[-2:]
    return f"arn:aws:sqs:{call.region}:{account}:{name}"


def _sqs_requests(call: Call) -> list[Request]:
    action = {"DeleteMessageBatch": "DeleteMessage", "SendMessageBatch": "SendMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}.get(call.operation, call.operation)
    if call.operation == "GetQueueUrl":
        return [Request("sqs:GetQueueUrl", _arn(call, "sqs", call.params["QueueName"]))]
    return [Request(f"sqs:{action}", _queue_arn(call))]


def _events_requests(call: Call) -> list[Request]:
    if call.operation != "PutEvents":
        raise UnmappedOperation(f"events:{call.operation}")
    buses = {entry.get("EventBusName") or "default" for entry in call.params["Entries"]}
    return [Request("events:PutEvents", bus if bus.startswith("arn:") else _arn(call, "events", f"event-bus/{bus}"))
            for bus in sorted(buses)]


def _lambda_requests(call: Call) -> list[Request]:
    if call.operation not in ("Invoke", "InvokeAsync"):
        raise UnmappedOperation(f"lambda:{call.operation}")
    return [Request("lambda:InvokeFunction",
                    _function_arn(call, call.params["FunctionName"], call.params.get("Qualifier")))]


_task_definition_roles: Callable[[str, str], Sequence[str]] = lambda account, arn: ()


def _ecs_requests(call: Call) -> list[Request]:
    p = call.params
    if call.operation != "RunTask":
        raise UnmappedOperation(f"ecs:{call.operation}")
    definition = p["taskDefinition"]
    if not definition.startswith("arn:"):
        definition = _arn(call, "ecs", f"task-definition/{definition}")
    cluster = p.get("cluster") or "default"
    if not cluster.startswith("arn:"):
        cluster = _arn(call, "ecs", f"cluster/{cluster}")
    requests = [Request("ecs:RunTask", definition, {"ecs:cluster": cluster})]
    roles = list(_task_definition_roles(call.account, definition))
    override = (p.get("overrides") or {}).get("taskRoleArn")
    roles += [override] if override else []
    # ECS checks that the caller may pass the task definition's roles to ECS tasks.
    return requests + [Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"})
                       for role in dict.fromkeys(roles)]


def _sns_requests(call: Call) -> list[Request]:
    if call.operation != "Publish":
        raise UnmappedOperation(f"sns:{call.operation}")
    return [Request("sns:Publish", call.params.get("TopicArn") or call.params.get("TargetArn"))]


OPERATIONS: dict[str, Callable[[Call], list[Request]]] = {
    "s3": _s3_requests,
    "dynamodb": _dynamodb_requests,
    "stepfunctions": _states_requests,
    "transcribe": _transcribe_requests,
    "textract": _textract_requests,
    "comprehend": _comprehend_requests,
    "bedrock-runtime": _bedrock_requests,
    "sqs": _sqs_requests,
    "events": _events_requests,
    "lambda": _lambda_requests,
    "ecs": _ecs_requests,
    "sns": _sns_requests,
}
# Calls that need no permission at all.
UNAUTHORIZED_OPERATIONS = {("sts", "GetCallerIdentity")}
# Calls moto's Step Functions engine makes for itself that Step Functions does not make as the state machine's
# role: it describes the task after RunTask to shape its output, while AWS needs no ecs:DescribeTasks for the
# request-response and .waitForTaskToken patterns (Step Functions guide, "IAM policies for Amazon ECS").
ENGINE_INTERNAL_OPERATIONS = {("ecs", "DescribeTasks")}


def requirements(call: Call) -> list[Request]:
    if (call.service, call.operation) in UNAUTHORIZED_OPERATIONS:
        return []
    mapper = OPERATIONS.get(call.service)
    if mapper is None:
        raise UnmappedOperation(f"{call.service}:{call.operation}")
    return mapper(call)


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


def set_task_definition_roles(lookup: Callable[[str, str], Sequence[str]]) -> None:
    global _task_definition_roles
    _task_definition_roles = lookup


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
