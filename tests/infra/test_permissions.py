"""Least privilege, role by role: each role's statements are exactly the grants below (action, resource,
condition), written as data. A grant that is added, widened or dropped fails here; change the table in
docs/deploy.md ("Permissions") together with this file.

Resources are named by construct path (`<Storage/MediaBucket.Arn>`), `<AWS::Region>`-style pseudo
parameters, or `*`.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import CfnElement

UPLOADS = "<Storage/MediaBucket.Arn>/uploads/*"
RESULTS = "<Storage/MediaBucket.Arn>/results/*"
TABLE = "<Storage/JobsTable.Arn>"
STATE_MACHINE = "<Workflow/StateMachine>"
EXPRESS_STATE_MACHINE = "<Workflow/ExpressStateMachine>"
EXECUTIONS = "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<Workflow/StateMachine.Name>:*"
DEFAULT_BUS = "arn:<AWS::Partition>:events:<AWS::Region>:<AWS::AccountId>:event-bus/default"
TRANSCRIPTION_JOBS = "arn:<AWS::Partition>:transcribe:<AWS::Region>:<AWS::AccountId>:transcription-job/media-*"
NOVA_LITE = "arn:<AWS::Partition>:bedrock:<AWS::Region>::foundation-model/amazon.nova-lite-v1:0"


def _condition(condition: dict[str, Any]) -> str:
    return json.dumps(condition, sort_keys=True)


def leading_keys(prefix: str) -> str:
    return _condition({"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{prefix}*"]}})


def grants(actions: str, resource: str, condition: str = "") -> set[tuple[str, str, str]]:
    return {(action, resource, condition) for action in actions.split()}


def lambda_basics(stem: str) -> set[tuple[str, str, str]]:
    """Every function: its own log group, and X-Ray (no resource-level permissions)."""
    return (grants("logs:CreateLogStream logs:PutLogEvents", f"<{stem}Logs.Arn>")
            | grants("xray:PutTelemetryRecords xray:PutTraceSegments", "*"))


def task_response(*, heartbeat: bool = False) -> set[tuple[str, str, str]]:
    return grants("states:SendTaskSuccess states:SendTaskFailure" + (" states:SendTaskHeartbeat" if heartbeat else ""),
                  STATE_MACHINE)


def textract_dispatcher(stem: str, token_actions: str) -> set[tuple[str, str, str]]:
    """Whoever may start a queued item's Textract job (media_pipeline/admission.py): the start step, the callback
    that frees a slot, and release_capacity."""
    return (lambda_basics(stem)
            | grants("s3:GetObject", RESULTS)  # Textract reads the OCR input as the caller
            | grants(token_actions, TABLE, leading_keys("TOKEN#textract#"))
            | grants("dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem dynamodb:Query", TABLE,
                     leading_keys("CAPACITY#textract"))  # the slots and the queue
            | grants("textract:StartDocumentTextDetection textract:GetDocumentTextDetection", "*")
            | grants("iam:PassRole", "<AiServices/TextractPublishRole.Arn>",
                     _condition({"StringEquals": {"iam:PassedToService": "textract.amazonaws.com"}}))
            | task_response())

PAGE_COPIER = "Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C256MiB/ServiceRole"
CDK_ASSETS = "arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"

STEP_FUNCTIONS = ("AnalyzeDocument", "CollectDocumentText", "Enrich", "ExtractMedia", "Finalize", "IdentifyLanguage",
                  "ProbeMedia", "ProcessTranscript", "RedactPii", "StartDocumentAnalysis", "StartTranscription")

EXPRESS_STEP_FUNCTIONS = ("AnalyzeDocument", "CollectDocumentText", "Enrich", "Finalize", "IdentifyLanguage", "RedactPii")

# Role (construct path) -> every grant it holds.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "IngestRole": lambda_basics("Ingest")
    | grants("sqs:ReceiveMessage sqs:DeleteMessage sqs:ChangeMessageVisibility sqs:GetQueueAttributes sqs:GetQueueUrl",
             "<Ingest/Queue.Arn>")  # the SQS event source mapping (CDK's grant)
    | grants("s3:GetObject s3:GetObjectVersion", UPLOADS)
    | grants("s3:PutObject", RESULTS)  # the FAILED manifest of a rejected upload
    # GetItem: whether a second delivery's Express execution was started (Express does not deduplicate names)
    | grants("dynamodb:PutItem dynamodb:GetItem dynamodb:UpdateItem", TABLE, leading_keys("MEDIA#"))
    | grants("states:StartExecution", STATE_MACHINE)
    | grants("states:StartExecution", EXPRESS_STATE_MACHINE)  # images read synchronously (media_pipeline/workflows.py)
    | grants("events:PutEvents", DEFAULT_BUS),
    "StartTranscriptionRole": lambda_basics("StartTranscription")
    | grants("s3:GetObject", UPLOADS) | grants("s3:GetObject", RESULTS)  # Transcribe reads the audio as the caller
    | grants("s3:PutObject", RESULTS)  # and writes its transcript as the caller
    | grants("dynamodb:PutItem dynamodb:GetItem dynamodb:DeleteItem", TABLE, leading_keys("TOKEN#transcribe#"))
    | grants("transcribe:StartTranscriptionJob transcribe:GetTranscriptionJob", TRANSCRIPTION_JOBS)
    | grants("iam:PassRole", "<AiServices/TranscribeDataAccessRole.Arn>",  # deferred execution past the quota
             _condition({"StringEquals": {"iam:PassedToService": "transcribe.amazonaws.com"}}))
    | task_response(),
    "AiServices/TranscribeDataAccessRole": grants("s3:GetObject", UPLOADS) | grants("s3:GetObject", RESULTS),
    "TranscribeCallbackRole": lambda_basics("TranscribeCallback")
    | grants("dynamodb:GetItem dynamodb:DeleteItem", TABLE, leading_keys("TOKEN#transcribe#"))
    | grants("transcribe:GetTranscriptionJob", TRANSCRIPTION_JOBS)
    | grants("sqs:SendMessage", "<AiServices/TranscribeCallbackDeadLetterQueue.Arn>")  # failed invocations
    | task_response(),
    "ProcessTranscriptRole": lambda_basics("ProcessTranscript")
    | grants("s3:GetObject s3:PutObject", RESULTS),
    "IdentifyLanguageRole": lambda_basics("IdentifyLanguage")
    | grants("s3:GetObject", RESULTS)  # the document's text
    | grants("comprehend:DetectDominantLanguage", "*"),  # no resource-level permissions
    "RedactPiiRole": lambda_basics("RedactPii")
    | grants("s3:GetObject s3:PutObject", RESULTS)  # the text; the redacted text, the entities, overwrites
    | grants("comprehend:DetectPiiEntities", "*"),  # no resource-level permissions
    "EnrichRole": lambda_basics("Enrich")
    | grants("s3:GetObject s3:PutObject", RESULTS)
    | grants("bedrock:InvokeModel", NOVA_LITE),
    "FinalizeRole": lambda_basics("Finalize")
    | grants("s3:GetObject s3:PutObject", RESULTS)
    | grants("dynamodb:GetItem dynamodb:UpdateItem", TABLE, leading_keys("MEDIA#"))
    | grants("events:PutEvents", DEFAULT_BUS)
    | grants("states:GetExecutionHistory", EXECUTIONS),  # the item's cost, counted from its execution
    "AnalyzeDocumentRole": lambda_basics("AnalyzeDocument")
    | grants("s3:GetObject s3:GetObjectVersion", UPLOADS)
    | grants("s3:PutObject s3:AbortMultipartUpload", RESULTS)
    | grants("textract:DetectDocumentText", "*"),
    "StartDocumentAnalysisRole": textract_dispatcher("StartDocumentAnalysis", "dynamodb:PutItem dynamodb:GetItem dynamodb:DeleteItem"),
    "TextractCallbackRole": textract_dispatcher("TextractCallback", "dynamodb:GetItem dynamodb:DeleteItem")
    | grants("sqs:SendMessage", "<AiServices/TextractCallbackDeadLetterQueue.Arn>"),  # failed invocations
    "ReleaseCapacityRole": textract_dispatcher("ReleaseCapacity", "dynamodb:GetItem dynamodb:DeleteItem"),
    "CollectDocumentTextRole": lambda_basics("CollectDocumentText")
    | grants("s3:GetObject s3:PutObject s3:AbortMultipartUpload", RESULTS)
    | grants("textract:GetDocumentTextDetection", "*"),
    "ProbeMediaRole": lambda_basics("ProbeMedia")
    | grants("s3:GetObject s3:GetObjectVersion", UPLOADS),
    "ExtractMediaRole": lambda_basics("ExtractMedia")
    | grants("s3:GetObject s3:GetObjectVersion", UPLOADS)
    | grants("s3:PutObject s3:AbortMultipartUpload", RESULTS),
    "ReconcileRole": lambda_basics("Reconcile")
    | grants("s3:ListBucketVersions", "<Storage/MediaBucket.Arn>",
             _condition({"StringLike": {"s3:prefix": ["uploads/*"]}}))  # the latest version of each upload
    | grants("dynamodb:GetItem dynamodb:UpdateItem", TABLE, leading_keys("MEDIA#"))  # job records; an ended one
    | grants("states:DescribeExecution",
             "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<Workflow/StateMachine.Name>:*")
    | grants("sqs:SendMessage", "<Ingest/Queue.Arn>")  # an upload's event, again
    | grants("s3:PutObject", RESULTS)  # the FAILED manifest of an execution that ended without one
    | grants("events:PutEvents", DEFAULT_BUS),
    "BackfillItemsRole": lambda_basics("BackfillItems")  # a batch of existing objects through ingest
    | grants("s3:GetObject", UPLOADS)  # the current version's id and first bytes
    | grants("dynamodb:DeleteItem dynamodb:GetItem dynamodb:PutItem", TABLE, leading_keys("MEDIA#"))  # job, admission
    | grants("sqs:SendMessage", "<Ingest/Queue.Arn>"),  # the upload's event, as S3 would have sent it
    "Backfill/StateMachine/Role": grants(
        "logs:CreateLogDelivery logs:DeleteLogDelivery logs:DescribeLogGroups logs:DescribeResourcePolicies "
        "logs:GetLogDelivery logs:ListLogDeliveries logs:PutResourcePolicy logs:UpdateLogDelivery "
        "xray:GetSamplingRules xray:GetSamplingTargets xray:PutTelemetryRecords xray:PutTraceSegments", "*")
    | grants("lambda:InvokeFunction", "<BackfillItemsFunction.Arn>")
    | grants("s3:ListBucket", "<Storage/MediaBucket.Arn>", _condition({"StringLike": {"s3:prefix": ["uploads/*"]}}))
    | grants("s3:AbortMultipartUpload s3:GetObject s3:ListMultipartUploadParts s3:PutObject",
             "<Storage/MediaBucket.Arn>/backfill/*")  # the ResultWriter's report
    | grants("states:StartExecution",  # the Distributed Map's children are executions of itself
             "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:stateMachine:MediaPipeline-backfill")
    | grants("states:DescribeExecution states:StopExecution",
             "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:MediaPipeline-backfill/*"),
    "VideoWorker/TaskRole": grants("s3:GetObject s3:GetObjectVersion", UPLOADS)
    | grants("s3:PutObject s3:AbortMultipartUpload", RESULTS)
    | task_response(heartbeat=True),
    "VideoWorker/TaskDefinition/ExecutionRole": grants(
        "ecr:BatchCheckLayerAvailability ecr:BatchGetImage ecr:GetDownloadUrlForLayer",
        "arn:<AWS::Partition>:ecr:<AWS::Region>:<AWS::AccountId>:repository/"
        "cdk-hnb659fds-container-assets-${AWS::AccountId}-${AWS::Region}")
    | grants("ecr:GetAuthorizationToken", "*")
    | grants("logs:CreateLogStream logs:PutLogEvents", "<VideoWorker/Logs.Arn>"),
    "Workflow/StateMachine/Role": grants(
        "logs:CreateLogDelivery logs:DeleteLogDelivery logs:DescribeLogGroups logs:DescribeResourcePolicies "
        "logs:GetLogDelivery logs:ListLogDeliveries logs:PutResourcePolicy logs:UpdateLogDelivery "
        "xray:GetSamplingRules xray:GetSamplingTargets xray:PutTelemetryRecords xray:PutTraceSegments", "*")
    # The ASL's Task states name the unqualified function ARNs: no `:*` for versions or aliases.
    | {("lambda:InvokeFunction", f"<{stem}Function.Arn>", "") for stem in STEP_FUNCTIONS}
    | grants("ecs:RunTask", "<VideoWorker/TaskDefinition>",
             _condition({"ArnEquals": {"ecs:cluster": "<VideoWorker/Cluster.Arn>"}}))
    | grants("iam:PassRole", "<VideoWorker/TaskRole.Arn>",
             _condition({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}))
    | grants("iam:PassRole", "<VideoWorker/TaskDefinition/ExecutionRole.Arn>",
             _condition({"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}})),
    "Workflow/ExpressStateMachine/Role": grants(
        "logs:CreateLogDelivery logs:DeleteLogDelivery logs:DescribeLogGroups logs:DescribeResourcePolicies "
        "logs:GetLogDelivery logs:ListLogDeliveries logs:PutResourcePolicy logs:UpdateLogDelivery "
        "xray:GetSamplingRules xray:GetSamplingTargets xray:PutTelemetryRecords xray:PutTraceSegments", "*")
    # Only the functions of the synchronous image route: no waits, no worker.
    | {("lambda:InvokeFunction", f"<{stem}Function.Arn>", "") for stem in EXPRESS_STEP_FUNCTIONS},
    "AiServices/TextractPublishRole": grants("sns:Publish", "<AiServices/TextractTopic>"),
    "VideoWorker/Vpc/FlowLog/IAMRole": grants(
        "logs:CreateLogStream logs:DescribeLogStreams logs:PutLogEvents", "<VideoWorker/FlowLogs.Arn>"),
    # CDK's own custom resource that removes the default security group's rules (restrictDefaultSecurityGroup).
    "Custom::VpcRestrictDefaultSGCustomResourceProvider/Role": grants(
        "ec2:AuthorizeSecurityGroupIngress ec2:AuthorizeSecurityGroupEgress ec2:RevokeSecurityGroupIngress "
        "ec2:RevokeSecurityGroupEgress",
        "arn:<AWS::Partition>:ec2:<AWS::Region>:<AWS::AccountId>:security-group/<VideoWorker/Vpc.DefaultSecurityGroup>"),
    "ApiRole": lambda_basics("Api")  # the web API (media_pipeline/web_api.py; docs/web.md)
    | grants("s3:GetObject s3:GetObjectVersion s3:PutObject s3:DeleteObjectVersion", UPLOADS)  # links, presigned POST
    | grants("s3:GetObject s3:DeleteObjectVersion", RESULTS)
    | grants("s3:ListBucketVersions", "<Storage/MediaBucket.Arn>", _condition({"StringLike": {"s3:prefix": ["results/*"]}}))
    | grants("dynamodb:GetItem dynamodb:DeleteItem", TABLE, leading_keys("MEDIA#"))
    | grants("dynamodb:Query", f"{TABLE}/index/by-owner")
    | grants("states:GetExecutionHistory",
             "arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<Workflow/StateMachine.Name>:*"),
    # CDK's BucketDeployment, which copies web/ into the page bucket and invalidates the distribution.
    PAGE_COPIER: grants("cloudfront:CreateInvalidation cloudfront:GetInvalidation", "*")
    | {(f"s3:{action}", resource, "") for resource in ("<Web/PageBucket.Arn>", "<Web/PageBucket.Arn>/*")
       for action in ("Abort*", "DeleteObject*", "GetBucket*", "GetObject*", "List*", "PutObject", "PutObjectLegalHold",
                      "PutObjectRetention", "PutObjectTagging", "PutObjectVersionTagging")}
    | {(f"s3:{action}", resource, "") for action in ("GetBucket*", "GetObject*", "List*")
       for resource in (CDK_ASSETS, f"{CDK_ASSETS}/*")},
}
MANAGED_POLICIES = {
    PAGE_COPIER: ["arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
    "Custom::VpcRestrictDefaultSGCustomResourceProvider/Role": [
        "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"],
}


class Names:
    """Template values as readable strings: logical ids become construct paths."""

    def __init__(self, synth) -> None:
        stack = synth.stack
        self.paths: dict[str, str] = {}
        for construct in stack.node.find_all():
            if CfnElement.is_cfn_element(construct):
                path = construct.node.path.removeprefix(stack.node.path + "/").removesuffix("/Resource")
                self.paths[stack.resolve(construct.logical_id)] = path

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return [self(item) for item in value]
        if "Ref" in value:
            return f"<{self.paths.get(value['Ref'], value['Ref'])}>"
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return f"<{self.paths[logical_id]}.{attribute}>"
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(self(part) for part in parts)
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            return value["Fn::Sub"]
        return {key: self(item) for key, item in value.items()}


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def role_grants(synth, names: Names) -> dict[str, set[tuple[str, str, str]]]:
    """Every role's (action, resource, condition), from its AWS::IAM::Policy resources and inline policies."""
    resources = synth.json["Resources"]
    documents: dict[str, list[dict]] = {
        names.paths[role_id]: [p["PolicyDocument"] for p in role["Properties"].get("Policies", [])]
        for role_id, role in resources.items() if role["Type"] == "AWS::IAM::Role"}
    for policy in resources.values():
        if policy["Type"] == "AWS::IAM::Policy":
            for role in policy["Properties"]["Roles"]:
                documents[names(role).strip("<>")].append(policy["Properties"]["PolicyDocument"])
    found: dict[str, set[tuple[str, str, str]]] = {}
    for role, docs in documents.items():
        found[role] = set()
        for statement in (s for doc in docs for s in doc["Statement"]):
            assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
            condition = _condition(names(statement["Condition"])) if "Condition" in statement else ""
            for action in _as_list(statement["Action"]):
                for resource in _as_list(statement["Resource"]):
                    found[role].add((action, names(resource), condition))
    return found


@pytest.fixture(scope="module")
def names(synth) -> Names:
    return Names(synth)


@pytest.fixture(scope="module")
def found(synth, names) -> dict[str, set[tuple[str, str, str]]]:
    return role_grants(synth, names)


def test_every_role_is_listed(found):
    assert set(found) == set(EXPECTED)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_holds_exactly_its_grants(found, role):
    missing, extra = EXPECTED[role] - found[role], found[role] - EXPECTED[role]
    assert (sorted(missing), sorted(extra)) == ([], []), f"{role}: missing (first list), not expected (second)"


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_role_policies_are_policy_resources_attached_by_roles(synth, names, role):
    """Grants live in AWS::IAM::Policy resources naming the role in `Roles`: no managed policies, no inline
    `Policies` (CDK's own custom resource role aside)."""
    (props,) = [r["Properties"] for logical_id, r in synth.json["Resources"].items()
                if r["Type"] == "AWS::IAM::Role" and names.paths[logical_id] == role]
    assert [names(arn) for arn in props.get("ManagedPolicyArns", [])] == MANAGED_POLICIES.get(role, [])
    assert bool(props.get("Policies")) == (role in MANAGED_POLICIES and role != PAGE_COPIER)


def test_every_function_runs_as_its_own_role(synth, names):
    for name, function in synth.stack.functions.items():
        props = synth.json["Resources"][synth.logical_id(function)]["Properties"]
        assert names(props["Role"]) == f"<{''.join(p.capitalize() for p in name.split('_'))}Role.Arn>"


def test_table_key_prefixes_are_the_ones_the_code_writes():
    """The LeadingKeys conditions above name the partition keys media_pipeline/jobs.py writes."""
    from infra.storage import JOB_KEY_PREFIX, token_key_prefix
    from media_pipeline import jobs, textract, transcription

    assert jobs._job_key("abc")["pk"]["S"].startswith(JOB_KEY_PREFIX)
    for kind in (transcription.TOKEN_KIND, textract.TOKEN_KIND):
        assert jobs._token_key(kind, "name")["pk"]["S"].startswith(token_key_prefix(kind))
    assert {transcription.TOKEN_KIND, textract.TOKEN_KIND} == {"transcribe", "textract"}
