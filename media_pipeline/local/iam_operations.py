"""What an AWS call needs: a client operation and its parameters as the IAM requests AWS evaluates for it.

Most operations are authorized one to one (`dynamodb:PutItem` on the table); the documented exceptions are written
out here (S3's object, multipart and copy operations, Converse, Invoke, services that read or write with the
caller's permissions, iam:PassRole for roles handed to services). Every action and ARN format is checked against
AWS's action database in tests/local/test_iam.py. An operation not listed raises UnmappedOperation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import unquote, urlparse

from media_pipeline.local.iam_policy import Request, UnmappedOperation

_token_state_machine: Callable[[str], str | None] = lambda token: None
_task_definition_roles: Callable[[str, str], Sequence[str]] = lambda account, arn: ()


def set_token_state_machine(lookup: Callable[[str], str | None]) -> None:
    """How to find the state machine that issued a task token (SendTask* are authorized on it)."""
    global _token_state_machine
    _token_state_machine = lookup


def set_task_definition_roles(lookup: Callable[[str, str], Sequence[str]]) -> None:
    """Task definition ARN -> the roles RunTask passes to ECS (the caller needs iam:PassRole for each)."""
    global _task_definition_roles
    _task_definition_roles = lookup


def reset() -> None:
    set_token_state_machine(lambda token: None)
    set_task_definition_roles(lambda account, arn: ())
    _partition_keys.clear()


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
    if call.params.get("IndexName"):  # a Query or Scan of an index is authorized on the index
        index = f"table/{table}/index/{call.params['IndexName']}"
        return [Request(f"dynamodb:{call.operation}", _arn(call, "dynamodb", index))]
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
