"""`media-pipeline redrive` on the callback DLQs: each of the three kinds of message (EventBridge's undelivered
event, SNS's undelivered notification, Lambda's failed invocation record) is replayed to its callback function,
and deleted only when the replay succeeded. (The ingest DLQ's move is in tests/workflow/test_reconcile.py.)"""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3
import pytest
from moto import mock_aws

from media_pipeline.cli.operations import Target, callback_event, run_redrive
from media_pipeline.local import moto_gaps

REGION = "us-east-1"
TRANSCRIBE_EVENT = {"version": "0", "id": "e1", "detail-type": "Transcribe Job State Change", "source": "aws.transcribe",
                    "detail": {"TranscriptionJobName": "media-0123-0", "TranscriptionJobStatus": "COMPLETED"}}
TEXTRACT_MESSAGE = json.dumps({"JobId": "j1", "Status": "SUCCEEDED", "API": "StartDocumentTextDetection",
                               "JobTag": "0123"})
SNS_ENVELOPE = {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Message": TEXTRACT_MESSAGE, "Timestamp": "2026-01-01T00:00:00.000Z"}


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    moto_gaps.uninstall()
    with mock_aws(config=moto_gaps.MOTO_CONFIG):
        moto_gaps.install_message_move_tasks()
        yield
    moto_gaps.uninstall()


def create_function(name: str) -> None:
    role = boto3.client("iam", region_name=REGION).create_role(RoleName=f"{name}-role",
                                                               AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    boto3.client("lambda", region_name=REGION).create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler", Code={"ZipFile": code.getvalue()})


def test_the_three_kinds_of_callback_dlq_message_hold_their_event():
    assert callback_event(json.dumps(TRANSCRIBE_EVENT)) == TRANSCRIBE_EVENT
    [record] = callback_event(json.dumps(SNS_ENVELOPE))["Records"]
    assert json.loads(record["Sns"]["Message"])["JobId"] == "j1"
    invocation = {"version": "1.0", "requestContext": {"condition": "RetriesExhausted"},
                  "requestPayload": TRANSCRIBE_EVENT, "responsePayload": {"errorMessage": "boom"}}
    assert callback_event(json.dumps(invocation)) == TRANSCRIBE_EVENT
    assert callback_event("not json") is None and callback_event('{"other": 1}') is None


def test_redrive_replays_the_callback_dlqs_and_keeps_what_fails_again(account):
    sqs = boto3.client("sqs", region_name=REGION)
    urls = {name: sqs.create_queue(QueueName=name)["QueueUrl"]
            for name in ("ingest-dlq", "transcribe-dlq", "textract-dlq")}
    received: dict[str, list[Any]] = {"transcribe_callback": [], "textract_callback": []}

    def recorder(name: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            if event.get("detail", {}).get("TranscriptionJobName") == "media-broken-0":
                raise RuntimeError("still failing")
            received[name].append(event)
            return {"result": "resumed"}
        return handler

    for name in received:
        create_function(name)
    moto_gaps.install_lambda_runtime({name: recorder(name) for name in received})
    broken = {**TRANSCRIBE_EVENT, "detail": {"TranscriptionJobName": "media-broken-0"}}
    for body in (TRANSCRIBE_EVENT, {"requestPayload": TRANSCRIBE_EVENT, "responsePayload": {}}, broken):
        sqs.send_message(QueueUrl=urls["transcribe-dlq"], MessageBody=json.dumps(body))
    sqs.send_message(QueueUrl=urls["textract-dlq"], MessageBody=json.dumps(SNS_ENVELOPE))

    target = Target(name="test", reconcile_function="reconcile", ingest_dlq_url=urls["ingest-dlq"],
                    callback_dlqs={"transcribe_callback": (urls["transcribe-dlq"], "transcribe_callback"),
                                   "textract_callback": (urls["textract-dlq"], "textract_callback")},
                    session_options={"region_name": REGION})
    report = run_redrive(target, wait=True)

    assert report["callback_dlqs"] == {
        "transcribe_callback": {"waiting": 3, "replayed": 2, "failed": 1, "unreadable": 0},
        "textract_callback": {"waiting": 1, "replayed": 1, "failed": 0, "unreadable": 0}}
    assert received["transcribe_callback"] == [TRANSCRIBE_EVENT, TRANSCRIBE_EVENT]
    assert json.loads(received["textract_callback"][0]["Records"][0]["Sns"]["Message"])["JobTag"] == "0123"
    left = sqs.get_queue_attributes(QueueUrl=urls["transcribe-dlq"], AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert left["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"  # the one that failed again stays
    assert report["status"] == "NOTHING_TO_MOVE"  # the ingest DLQ was empty


def test_a_stack_is_found_by_its_outputs(monkeypatch: pytest.MonkeyPatch):
    outputs = {"ReconcileFunctionName": "MediaPipeline-Reconcile", "DeadLetterQueueUrl": "https://q/dlq",
               "TranscribeCallbackDeadLetterQueueUrl": "https://q/t", "TranscribeCallbackFunctionName": "tc",
               "TextractCallbackDeadLetterQueueUrl": "https://q/x", "TextractCallbackFunctionName": "xc"}

    class CloudFormation:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's name)
            assert StackName == "MediaPipeline"
            return {"Stacks": [{"Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()]}]}

    class Session:
        def __init__(self, **options: Any):
            assert options == {"region_name": "eu-west-1", "profile_name": None}

        def client(self, service: str, **_: Any) -> CloudFormation:
            assert service == "cloudformation"
            return CloudFormation()

    monkeypatch.setattr(boto3.session, "Session", Session)
    target = Target.of_stack("MediaPipeline", region="eu-west-1")
    assert (target.reconcile_function, target.ingest_dlq_url) == ("MediaPipeline-Reconcile", "https://q/dlq")
    assert target.callback_dlqs == {"transcribe_callback": ("https://q/t", "tc"), "textract_callback": ("https://q/x", "xc")}
    del outputs["ReconcileFunctionName"]
    with pytest.raises(LookupError, match="ReconcileFunctionName"):
        Target.of_stack("MediaPipeline", region="eu-west-1")
