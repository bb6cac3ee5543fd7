"""One test pair per moto gap: plain moto still has the gap (so an upgrade that closes it is noticed and the
workaround can go), and media_pipeline.local.moto_gaps closes it."""
from __future__ import annotations

import io
import json
import sys
import time
import zipfile
from typing import Any, Callable

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from media_pipeline.local import limits, moto_gaps, sqs_polling
from tests.waiting import until

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def plain() -> Any:
    """moto as it comes, with the pipeline's configuration."""
    moto_gaps.uninstall()
    with mock_aws(config=moto_gaps.MOTO_CONFIG):
        yield


@pytest.fixture
def patched() -> Any:
    moto_gaps.uninstall()
    with mock_aws(config=moto_gaps.MOTO_CONFIG):
        yield
        moto_gaps.wait_for_background_work(30)
    moto_gaps.uninstall()


def client(name: str) -> Any:
    return boto3.client(name, region_name=REGION)


def create_function(name: str) -> str:
    iam = client("iam")
    try:
        role = iam.create_role(RoleName="fn-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    except ClientError:
        role = iam.get_role(RoleName="fn-role")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return client("lambda").create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="handler.handler",
        Code={"ZipFile": buffer.getvalue()}, Timeout=30)["FunctionArn"]


class Failing(Exception):
    pass


def test_moto_is_the_pinned_version() -> None:
    assert moto.__version__ == moto_gaps.MOTO_VERSION


# ---- Lambda ---------------------------------------------------------------------------------------------------

def test_gap_lambda_invoke_only_echoes(plain: None) -> None:
    create_function("double")
    response = client("lambda").invoke(FunctionName="double", Payload=json.dumps({"n": 2}))
    assert json.loads(response["Payload"].read()) == {"n": 2}  # the input, not a result


def test_lambda_runtime_runs_the_handler_with_a_context(patched: None) -> None:
    seen: dict[str, Any] = {}

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.update(name=context.function_name, arn=context.invoked_function_arn,
                    remaining=context.get_remaining_time_in_millis(), request=context.aws_request_id,
                    memory=context.memory_limit_in_mb)
        return {"n": event["n"] * 2}

    arn = create_function("double")
    moto_gaps.install_lambda_runtime({"double": handler})
    for name in ("double", arn):
        response = client("lambda").invoke(FunctionName=name, Payload=json.dumps({"n": 2}))
        assert json.loads(response["Payload"].read()) == {"n": 4}
        assert "FunctionError" not in response
    assert seen["name"] == "double" and seen["arn"] == arn and 0 < seen["remaining"] <= 30_000
    assert seen["request"] and seen["memory"] == 128


def test_lambda_runtime_reports_unhandled_errors_like_lambda(patched: None) -> None:
    def handler(event: dict[str, Any], context: Any) -> None:
        raise Failing("it broke")

    create_function("broken")
    moto_gaps.install_lambda_runtime({"broken": handler})
    response = client("lambda").invoke(FunctionName="broken", Payload="{}")
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "Failing" and body["errorMessage"] == "it broke" and body["stackTrace"]


def test_lambda_runtime_runs_event_invocations_in_the_background(patched: None) -> None:
    calls: list[dict[str, Any]] = []
    create_function("later")
    moto_gaps.install_lambda_runtime({"later": lambda event, context: calls.append(event)})
    response = client("lambda").invoke(FunctionName="later", InvocationType="Event", Payload='{"a": 1}')
    assert response["StatusCode"] == 202
    until(lambda: calls)
    assert calls == [{"a": 1}]


def test_a_failed_event_invocation_is_retried_as_lambda_retries_it(patched: None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_gaps, "ASYNC_RETRY_DELAYS", (0.05, 0.1))  # Lambda's are about 1 and 2 minutes
    calls: list[float] = []

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise Failing(f"attempt {len(calls)} failed")
        return {"done": event}

    create_function("flaky")
    moto_gaps.install_lambda_runtime({"flaky": flaky})
    assert client("lambda").invoke(FunctionName="flaky", InvocationType="Event", Payload='{"a": 1}')[
        "StatusCode"] == 202
    until(lambda: len(calls) == 3)
    assert calls[1] - calls[0] >= 0.05 and calls[2] - calls[1] >= 0.1  # the two retries, each after its delay
    time.sleep(0.3)
    assert len(calls) == 3  # it succeeded: no fourth attempt


def test_an_event_invocation_that_keeps_failing_goes_to_its_on_failure_queue(patched: None,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(moto_gaps, "ASYNC_RETRY_DELAYS", (0.05, 0.1))
    calls: list[dict[str, Any]] = []

    def broken(event: dict[str, Any], context: Any) -> None:
        calls.append(event)
        raise Failing("the job cannot be read")

    arn = create_function("broken-callback")
    queue = client("sqs").create_queue(QueueName="callback-failures")["QueueUrl"]
    queue_arn = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    client("lambda").put_function_event_invoke_config(
        FunctionName="broken-callback", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}})
    moto_gaps.install_lambda_runtime({"broken-callback": broken})
    client("lambda").invoke(FunctionName="broken-callback", InvocationType="Event", Payload='{"job": "j-1"}')
    messages = until(lambda: client("sqs").receive_message(QueueUrl=queue).get("Messages"))
    record = json.loads(messages[0]["Body"])
    assert calls == [{"job": "j-1"}, {"job": "j-1"}]  # the invocation and MaximumRetryAttempts=1 retry
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == f"{arn}:$LATEST"
    assert record["requestPayload"] == {"job": "j-1"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "Failing"
    assert record["responsePayload"]["errorMessage"] == "the job cannot be read"


def test_unregistered_functions_keep_moto_behaviour(patched: None) -> None:
    create_function("other")
    moto_gaps.install_lambda_runtime({})
    response = client("lambda").invoke(FunctionName="other", Payload='{"x": 1}')
    assert json.loads(response["Payload"].read()) == {"x": 1}


# ---- Step Functions with Lambda tasks ---------------------------------------------------------------------------

def run_execution(definition: dict[str, Any], execution_input: dict[str, Any] | None = None,
                  timeout: float = 30) -> dict[str, Any]:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=json.dumps(definition),
                                       roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn")["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input=json.dumps(execution_input or {}))["executionArn"]
    return until(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d, timeout)


def test_state_machine_lambda_tasks_with_retry_and_catch(patched: None) -> None:
    attempts: list[int] = []

    class TransientError(Exception):
        pass

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 2:
            raise TransientError("try again")
        return {"value": event["value"] + 1}

    def broken(event: dict[str, Any], context: Any) -> None:
        raise Failing(json.dumps({"code": "BROKEN", "message": "no"}))

    flaky_arn, broken_arn = create_function("flaky"), create_function("broken")
    moto_gaps.install_lambda_runtime({"flaky": flaky, "broken": broken})
    definition = {"StartAt": "Flaky", "States": {
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                  "Parameters": {"FunctionName": flaky_arn, "Payload.$": "$"}, "ResultSelector": {"v.$": "$.Payload"},
                  "ResultPath": "$.flaky",
                  "Retry": [{"ErrorEquals": ["TransientError"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                  "Next": "Broken"},
        "Broken": {"Type": "Task", "Resource": broken_arn, "ResultPath": "$.result",
                   "Catch": [{"ErrorEquals": ["Failing"], "ResultPath": "$.error", "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    execution = run_execution(definition, {"value": 1})
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["flaky"] == {"v": {"value": 2}} and len(attempts) == 2
    assert output["error"]["Error"] == "Failing"
    assert json.loads(output["error"]["Cause"])["errorType"] == "Failing"


def test_state_machine_waits_for_a_task_token_sent_from_a_background_thread(patched: None) -> None:
    import threading

    def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = event["task_token"]

        def finish() -> None:
            time.sleep(0.5)
            boto3.client("stepfunctions", region_name=REGION).send_task_success(
                taskToken=token, output=json.dumps({"done": event["n"]}))

        threading.Thread(target=finish).start()
        return {"started": True}

    arn = create_function("start_job")
    moto_gaps.install_lambda_runtime({"start_job": start})
    definition = {"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": arn, "Payload": {"task_token.$": "$$.Task.Token", "n.$": "$.n"}},
        "TimeoutSeconds": 20, "End": True}}}
    execution = run_execution(definition, {"n": 7})
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == {"done": 7}


def failed_by_token_cause() -> Any:
    import threading

    def start(event: dict[str, Any], context: Any) -> dict[str, Any]:
        threading.Thread(target=lambda: (time.sleep(0.3), boto3.client("stepfunctions", region_name=REGION)
                                         .send_task_failure(taskToken=event["token"], error="JOB_FAILED",
                                                            cause="the job's reason"))).start()
        return {}

    arn = create_function("start_job")
    moto_gaps.install_lambda_runtime({"start_job": start})
    definition = {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                 "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}}, "TimeoutSeconds": 20,
                 "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Pass", "End": True}}}
    execution = run_execution(definition)
    return json.loads(execution["output"])["error"]


def test_gap_send_task_failure_drops_the_cause(plain: None) -> None:
    error = failed_by_token_cause()
    moto_gaps.uninstall()
    assert error["Error"] == "JOB_FAILED" and error.get("Cause") is None


def test_send_task_failure_keeps_the_cause(patched: None) -> None:
    moto_gaps.install_task_callbacks()
    assert failed_by_token_cause() == {"Error": "JOB_FAILED", "Cause": "the job's reason"}


# ---- EventBridge, S3, SQS, SNS --------------------------------------------------------------------------------

def put_rule(name: str, pattern: dict[str, Any], target_arn: str) -> None:
    events = client("events")
    events.put_rule(Name=name, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, Targets=[{"Id": "t", "Arn": target_arn}])


def test_gap_eventbridge_cannot_deliver_to_lambda(plain: None) -> None:
    arn = create_function("on_event")
    put_rule("to-lambda", {"source": ["app"]}, arn)
    with pytest.raises(Exception):  # moto raises NotImplementedError inside PutEvents
        client("events").put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])


def test_eventbridge_delivers_to_lambda_and_state_machines(patched: None) -> None:
    received: list[dict[str, Any]] = []
    arn = create_function("on_event")
    moto_gaps.install_lambda_runtime({"on_event": lambda event, context: received.append(event)})
    moto_gaps.install_event_delivery()
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(
        name="on-event", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    put_rule("to-lambda", {"source": ["app"]}, arn)
    put_rule("to-sfn", {"source": ["app"]}, machine)
    client("events").put_events(Entries=[{"Source": "app", "DetailType": "Thing Happened", "Detail": '{"a": 1}'}])
    until(lambda: received)
    assert received[0]["detail"] == {"a": 1} and received[0]["detail-type"] == "Thing Happened"
    assert received[0]["time"].endswith("Z") and received[0]["account"] == ACCOUNT
    executions = until(lambda: sfn.list_executions(stateMachineArn=machine)["executions"])
    execution_input = json.loads(sfn.describe_execution(executionArn=executions[0]["executionArn"])["input"])
    assert execution_input["source"] == "app"


def queue_rule(name: str) -> str:
    """A rule (source "app") whose target is a new queue; the queue's URL."""
    sqs = client("sqs")
    queue = sqs.create_queue(QueueName=f"{name}-target")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    put_rule(name, {"source": ["app"]}, queue_arn)
    return queue


def test_gap_a_disabled_rule_still_delivers(plain: None) -> None:
    queue = queue_rule("switched-off")
    client("events").disable_rule(Name="switched-off")
    client("events").put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert messages_in(queue) == 1


def test_a_disabled_rule_delivers_nothing_until_enabled_again(patched: None) -> None:
    moto_gaps.install_event_delivery()
    queue = queue_rule("switched-off")
    events = client("events")
    events.disable_rule(Name="switched-off")
    events.put_events(Entries=[{"Source": "app", "DetailType": "x", "Detail": "{}"}])
    assert messages_in(queue) == 0
    events.enable_rule(Name="switched-off")
    events.put_events(Entries=[{"Source": "app", "DetailType": "y", "Detail": "{}"}])
    assert messages_in(queue) == 1
    body = json.loads(client("sqs").receive_message(QueueUrl=queue)["Messages"][0]["Body"])
    assert body["detail-type"] == "y"


def make_upload_path(ingest: Callable[[dict[str, Any], Any], Any]) -> str:
    """Bucket with EventBridge notifications → rule (prefix uploads/) → SQS (with DLQ) → function."""
    s3, sqs = client("s3"), client("sqs")
    s3.create_bucket(Bucket="media")
    s3.put_bucket_notification_configuration(Bucket="media",
                                             NotificationConfiguration={"EventBridgeConfiguration": {}})
    dlq = sqs.create_queue(QueueName="ingest-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="ingest", Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"})})["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    create_function("ingest")
    moto_gaps.install_lambda_runtime({"ingest": ingest})
    # A rule with a Lambda target first: in plain moto it stops S3's delivery to every later rule.
    create_function("transcribe_callback")
    put_rule("transcribe", {"source": ["aws.transcribe"]}, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:transcribe_callback")
    put_rule("uploads", {"source": ["aws.s3"], "detail-type": ["Object Created"],
                         "detail": {"bucket": {"name": ["media"]}, "object": {"key": [{"prefix": "uploads/"}]}}},
             queue_arn)
    client("lambda").create_event_source_mapping(EventSourceArn=queue_arn, FunctionName="ingest", BatchSize=10)
    return queue


def test_gap_s3_events_stop_at_a_rule_with_a_lambda_target(plain: None) -> None:
    received: list[dict[str, Any]] = []
    queue = make_upload_path(lambda event, context: received.append(event))
    moto_gaps.uninstall()  # make_upload_path registered the handler; show plain moto
    client("s3").put_object(Bucket="media", Key="uploads/a.wav", Body=b"RIFF")
    time.sleep(0.3)
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"])
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0" and not received


def test_upload_reaches_the_ingest_function_through_eventbridge_and_sqs(patched: None) -> None:
    received: list[dict[str, Any]] = []
    moto_gaps.install_event_delivery()
    make_upload_path(lambda event, context: received.append(event) or {"batchItemFailures": []})
    client("s3").put_object(Bucket="media", Key="results/x.json", Body=b"{}")  # outside the prefix
    client("s3").put_object(Bucket="media", Key="uploads/a b.wav", Body=b"RIFF")
    until(lambda: received)
    assert len(received) == 1
    record = received[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs"
    body = json.loads(record["body"])
    assert body["source"] == "aws.s3" and body["detail-type"] == "Object Created"
    assert body["detail"]["object"]["key"] == "uploads/a b.wav" and body["detail"]["bucket"]["name"] == "media"


def test_sns_subscription_invokes_the_function(patched: None) -> None:
    received: list[dict[str, Any]] = []
    arn = create_function("callback")
    moto_gaps.install_lambda_runtime({"callback": lambda event, context: received.append(event)})
    sns = client("sns")
    topic = sns.create_topic(Name="textract")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    sns.publish(TopicArn=topic, Message='{"JobId": "1"}')
    until(lambda: received)
    assert json.loads(received[0]["Records"][0]["Sns"]["Message"]) == {"JobId": "1"}


# ---- Transcribe ------------------------------------------------------------------------------------------------

def transcribe_output(text: str, language: str = "en-US") -> dict[str, Any]:
    items = [{"start_time": f"{i * 0.5:.2f}", "end_time": f"{i * 0.5 + 0.4:.2f}", "type": "pronunciation",
              "alternatives": [{"confidence": "0.9", "content": word}]} for i, word in enumerate(text.split())]
    return {"results": {"transcripts": [{"transcript": text}], "items": items, "language_code": language}}


def start_job(name: str, key: str = "uploads/a.wav") -> None:
    client("transcribe").start_transcription_job(
        TranscriptionJobName=name, Media={"MediaFileUri": f"s3://media/{key}"}, IdentifyLanguage=True,
        OutputBucketName="media", OutputKey=f"results/{name}.json")


def test_gap_transcribe_writes_no_transcript(plain: None) -> None:
    client("s3").create_bucket(Bucket="media")
    client("s3").put_object(Bucket="media", Key="uploads/a.wav", Body=b"RIFF")
    start_job("job-1")
    statuses = [client("transcribe").get_transcription_job(TranscriptionJobName="job-1")["TranscriptionJob"][
        "TranscriptionJobStatus"] for _ in range(4)]
    assert statuses[-1] == "COMPLETED"  # after a few reads, whatever the media
    with pytest.raises(ClientError):
        client("s3").get_object(Bucket="media", Key="results/job-1.json")


def test_transcribe_runs_the_engine_writes_the_transcript_and_announces_it(patched: None) -> None:
    received: list[dict[str, Any]] = []
    seen: list[tuple[bytes, Any]] = []

    def engine(audio: bytes, language: str | None) -> dict[str, Any]:
        seen.append((audio, language))
        time.sleep(0.3)
        if audio == b"silence":
            raise ValueError("Failed to identify the language of the audio")
        return transcribe_output("hello world")

    s3 = client("s3")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="uploads/a.wav", Body=b"RIFF")
    s3.put_object(Bucket="media", Key="uploads/b.wav", Body=b"silence")
    arn = create_function("transcribe_callback")
    moto_gaps.install_lambda_runtime({"transcribe_callback": lambda event, context: received.append(event)})
    moto_gaps.install_event_delivery()
    moto_gaps.install_ai_engines(transcribe=engine)
    put_rule("transcribe", {"source": ["aws.transcribe"], "detail-type": ["Transcribe Job State Change"],
                            "detail": {"TranscriptionJobName": [{"prefix": "media-"}]}}, arn)
    transcribe = client("transcribe")
    start_job("media-1")
    assert transcribe.get_transcription_job(TranscriptionJobName="media-1")["TranscriptionJob"][
        "TranscriptionJobStatus"] == "IN_PROGRESS"
    with pytest.raises(ClientError) as conflict:
        start_job("media-1")
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    start_job("media-2", key="uploads/b.wav")
    until(lambda: len(received) == 2)
    by_name = {e["detail"]["TranscriptionJobName"]: e for e in received}
    assert by_name["media-1"]["source"] == "aws.transcribe"
    assert by_name["media-1"]["detail"]["TranscriptionJobStatus"] == "COMPLETED"
    assert by_name["media-2"]["detail"]["TranscriptionJobStatus"] == "FAILED"
    job = transcribe.get_transcription_job(TranscriptionJobName="media-1")["TranscriptionJob"]
    assert job["TranscriptionJobStatus"] == "COMPLETED" and job["LanguageCode"] == "en-US"
    assert job["Transcript"]["TranscriptFileUri"].endswith("/media/results/media-1.json")
    output = json.loads(s3.get_object(Bucket="media", Key="results/media-1.json")["Body"].read())
    assert output["jobName"] == "media-1" and output["status"] == "COMPLETED"
    assert output["results"]["transcripts"][0]["transcript"] == "hello world"
    failed = transcribe.get_transcription_job(TranscriptionJobName="media-2")["TranscriptionJob"]
    assert failed["TranscriptionJobStatus"] == "FAILED" and "identify the language" in failed["FailureReason"]
    assert (b"RIFF", None) in seen


# ---- Textract -----------------------------------------------------------------------------------------------

def page_blocks(pages: int, lines_per_page: int = 3) -> list[dict[str, Any]]:
    blocks = []
    for page in range(1, pages + 1):
        geometry = {"BoundingBox": {"Left": 0.1, "Top": 0.1, "Width": 0.5, "Height": 0.05},
                    "Polygon": [{"X": 0.1, "Y": 0.1}] * 4}
        lines = [{"BlockType": "LINE", "Id": f"l{page}-{i}", "Text": f"line {i}", "Confidence": 99.0,
                  "Geometry": geometry, "Page": page} for i in range(lines_per_page)]
        blocks.append({"BlockType": "PAGE", "Id": f"p{page}", "Geometry": geometry, "Page": page,
                       "Relationships": [{"Type": "CHILD", "Ids": [line["Id"] for line in lines]}]})
        blocks.extend(lines)
    return blocks


def test_gap_textract_returns_no_blocks(plain: None) -> None:
    response = client("textract").detect_document_text(Document={"Bytes": b"\x89PNG"})
    assert response["Blocks"] == []


def test_textract_sync_detection_uses_the_engine(patched: None) -> None:
    def engine(document: bytes) -> list[dict[str, Any]]:
        if document == b"two pages":
            return page_blocks(2)
        if document == b"junk":
            raise moto_gaps.EngineError("Request has unsupported document format")
        return page_blocks(1)

    moto_gaps.install_ai_engines(textract=engine)
    textract = client("textract")
    response = textract.detect_document_text(Document={"Bytes": b"\x89PNG"})
    assert response["DocumentMetadata"]["Pages"] == 1 and [b["BlockType"] for b in response["Blocks"]][:2] == ["PAGE", "LINE"]
    for document in (b"junk", b"two pages"):
        with pytest.raises(ClientError) as error:
            textract.detect_document_text(Document={"Bytes": document})
        assert error.value.response["Error"]["Code"] == "UnsupportedDocumentException"


def test_textract_async_job_notifies_sns_and_pages_results(patched: None) -> None:
    received: list[dict[str, Any]] = []
    s3 = client("s3")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="results/m1/ocr-input.pdf", Body=b"%PDF")
    arn = create_function("textract_callback")
    moto_gaps.install_lambda_runtime({"textract_callback": lambda event, context: received.append(event)})
    moto_gaps.install_ai_engines(textract=lambda document: (time.sleep(0.3), page_blocks(3, 400))[1])
    sns = client("sns")
    topic = sns.create_topic(Name="textract")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=arn)
    textract = client("textract")
    request = {"DocumentLocation": {"S3Object": {"Bucket": "media", "Name": "results/m1/ocr-input.pdf"}},
               "ClientRequestToken": "m1", "JobTag": "m1",
               "NotificationChannel": {"SNSTopicArn": topic, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/textract"}}
    job_id = textract.start_document_text_detection(**request)["JobId"]
    assert textract.start_document_text_detection(**request)["JobId"] == job_id  # idempotent
    assert textract.get_document_text_detection(JobId=job_id)["JobStatus"] == "IN_PROGRESS"
    until(lambda: received)
    message = json.loads(received[0]["Records"][0]["Sns"]["Message"])
    assert message["JobId"] == job_id and message["Status"] == "SUCCEEDED" and message["JobTag"] == "m1"
    assert message["API"] == "StartDocumentTextDetection"
    assert message["DocumentLocation"] == {"S3ObjectName": "results/m1/ocr-input.pdf", "S3Bucket": "media"}
    blocks, token, calls = [], None, 0
    while True:
        response = textract.get_document_text_detection(JobId=job_id, **({"NextToken": token} if token else {}))
        calls += 1
        blocks.extend(response["Blocks"])
        token = response.get("NextToken")
        if not token:
            break
    assert calls == 2 and len(blocks) == 3 * 401 and response["DocumentMetadata"]["Pages"] == 3


def test_textract_async_engine_failure_fails_the_job(patched: None) -> None:
    def engine(document: bytes) -> list[dict[str, Any]]:
        raise moto_gaps.EngineError("The document is password protected", code="UnsupportedDocumentException")

    client("s3").create_bucket(Bucket="media")
    client("s3").put_object(Bucket="media", Key="doc.pdf", Body=b"%PDF")
    moto_gaps.install_ai_engines(textract=engine)
    textract = client("textract")
    job_id = textract.start_document_text_detection(
        DocumentLocation={"S3Object": {"Bucket": "media", "Name": "doc.pdf"}})["JobId"]
    response = until(lambda: (r := textract.get_document_text_detection(JobId=job_id))["JobStatus"] != "IN_PROGRESS" and r)
    assert response["JobStatus"] == "FAILED" and "password" in response["StatusMessage"]


# ---- Bedrock ---------------------------------------------------------------------------------------------------

CONVERSE = {"modelId": "local.test", "messages": [{"role": "user", "content": [{"text": "Summarise: a b c"}]}],
            "system": [{"text": "Be brief."}], "inferenceConfig": {"maxTokens": 100, "temperature": 0.2}}


def test_gap_bedrock_runtime_has_no_converse(plain: None) -> None:
    with pytest.raises(Exception):
        client("bedrock-runtime").converse(**CONVERSE)


def test_converse_is_answered_by_the_engine(patched: None) -> None:
    calls: list[tuple[Any, ...]] = []

    def engine(messages: list[dict[str, Any]], system: list[dict[str, Any]], config: dict[str, Any]) -> str:
        calls.append((messages, system, config))
        return '{"title": "T"}'

    moto_gaps.install_ai_engines(bedrock=engine)
    response = client("bedrock-runtime").converse(**CONVERSE)
    assert response["output"]["message"]["content"][0]["text"] == '{"title": "T"}'
    assert response["output"]["message"]["role"] == "assistant" and response["stopReason"] == "end_turn"
    assert response["usage"]["inputTokens"] > 0 and response["usage"]["totalTokens"] > response["usage"]["inputTokens"]
    messages, system, config = calls[0]
    assert messages[0]["content"][0]["text"] == "Summarise: a b c" and system == [{"text": "Be brief."}]
    assert config["maxTokens"] == 100


# ---- Comprehend -------------------------------------------------------------------------------------------------

def test_gap_comprehend_has_no_detect_dominant_language(plain: None) -> None:
    with pytest.raises(NotImplementedError, match="detect_dominant_language"):
        client("comprehend").detect_dominant_language(Text="Guten Morgen, wie geht es dir heute?")


def test_detect_dominant_language_is_answered_by_the_engine(patched: None) -> None:
    texts: list[str] = []

    def engine(text: str) -> dict[str, Any]:
        texts.append(text)
        return {"Languages": [{"LanguageCode": "de", "Score": 0.98}, {"LanguageCode": "nl", "Score": 0.01}]}

    moto_gaps.install_ai_engines(comprehend_language=engine)
    comprehend = client("comprehend")
    response = comprehend.detect_dominant_language(Text="Guten Morgen, wie geht es dir heute?")
    assert response["Languages"] == [{"LanguageCode": "de", "Score": 0.98}, {"LanguageCode": "nl", "Score": 0.01}]
    assert texts == ["Guten Morgen, wie geht es dir heute?"]
    # Comprehend's own refusals, before the engine runs: over 100 KB, and blank text.
    with pytest.raises(ClientError) as too_long:
        comprehend.detect_dominant_language(Text="a" * 100_001)
    assert too_long.value.response["Error"]["Code"] == "TextSizeLimitExceededException"
    with pytest.raises(ClientError) as blank:
        comprehend.detect_dominant_language(Text="   ")
    assert blank.value.response["Error"]["Code"] == "InvalidRequestException"
    assert comprehend.detect_dominant_language(Text="a" * 100_000)["Languages"][0]["LanguageCode"] == "de"
    assert len(texts) == 2


def test_gap_comprehend_detect_pii_entities_is_a_fixed_answer(plain: None) -> None:
    comprehend = client("comprehend")
    first = comprehend.detect_pii_entities(Text="nothing personal here", LanguageCode="en")["Entities"]
    second = comprehend.detect_pii_entities(Text="mail a@b.io", LanguageCode="en")["Entities"]
    assert first == second and [e["Type"] for e in first] == ["NAME", "EMAIL", "BANK_ACCOUNT_NUMBER"]
    assert first[1]["BeginOffset"] == 230  # past the end of either text


def test_detect_pii_entities_is_answered_by_the_engine(patched: None) -> None:
    from media_pipeline.local.engines import pii

    calls: list[tuple[str, str]] = []

    def engine(text: str, language: str) -> dict[str, Any]:
        calls.append((text, language))
        return pii.detect_pii_entities(text, language)

    moto_gaps.install_ai_engines(comprehend_pii=engine)
    comprehend = client("comprehend")
    response = comprehend.detect_pii_entities(Text="mail a@b.io", LanguageCode="en")
    assert response["Entities"] == [{"Score": 0.9999, "Type": "EMAIL", "BeginOffset": 5, "EndOffset": 11}]
    assert comprehend.detect_pii_entities(Text="nothing personal", LanguageCode="es")["Entities"] == []
    # Comprehend's own refusals, before the engine runs: over 100 KB of UTF-8, a language it does not support.
    with pytest.raises(ClientError) as too_long:
        comprehend.detect_pii_entities(Text="é" * 50_001, LanguageCode="en")
    assert too_long.value.response["Error"]["Code"] == "TextSizeLimitExceededException"
    with pytest.raises(ClientError) as language:
        comprehend.detect_pii_entities(Text="mail a@b.io", LanguageCode="de")
    assert language.value.response["Error"]["Code"] == "ValidationException"
    assert len(calls) == 2


def test_gap_transcribe_ignores_content_redaction(plain: None) -> None:
    client("s3").create_bucket(Bucket="media")
    client("s3").put_object(Bucket="media", Key="uploads/a.wav", Body=b"RIFF")
    client("transcribe").start_transcription_job(
        TranscriptionJobName="job-r", Media={"MediaFileUri": "s3://media/uploads/a.wav"}, IdentifyLanguage=True,
        OutputBucketName="media", OutputKey="results/job-r.json",  # accepted, though Transcribe refuses it
        ContentRedaction={"RedactionType": "PII", "RedactionOutput": "redacted"})
    for _ in range(4):
        job = client("transcribe").get_transcription_job(TranscriptionJobName="job-r")["TranscriptionJob"]
    assert "RedactedTranscriptFileUri" not in job.get("Transcript", {})


@pytest.mark.parametrize("output", ["redacted", "redacted_and_unredacted"])
def test_transcribe_content_redaction_writes_the_redacted_transcript(patched: None, output: str) -> None:
    moto_gaps.install_ai_engines(transcribe=lambda audio, language: transcribe_output(
        "call +44 20 7946 0958 or mail jane@example.com today"))
    s3 = client("s3")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="uploads/a.wav", Body=b"RIFF")
    transcribe = client("transcribe")
    transcribe.start_transcription_job(
        TranscriptionJobName="media-r", Media={"MediaFileUri": "s3://media/uploads/a.wav"}, LanguageCode="en-US",
        OutputBucketName="media", OutputKey="results/media-r.json",
        ContentRedaction={"RedactionType": "PII", "RedactionOutput": output})
    for refused in ({"IdentifyLanguage": True}, {"LanguageCode": "de-DE"}):  # as Transcribe refuses them
        with pytest.raises(ClientError) as bad:
            transcribe.start_transcription_job(
                TranscriptionJobName="media-x", Media={"MediaFileUri": "s3://media/uploads/a.wav"}, **refused,
                ContentRedaction={"RedactionType": "PII", "RedactionOutput": output})
        assert bad.value.response["Error"]["Code"] == "BadRequestException"
    job = until(lambda: (j := transcribe.get_transcription_job(TranscriptionJobName="media-r")["TranscriptionJob"])
                ["TranscriptionJobStatus"] == "COMPLETED" and j)
    assert job["Transcript"]["RedactedTranscriptFileUri"].endswith("/media/results/redacted-media-r.json")
    redacted = json.loads(s3.get_object(Bucket="media", Key="results/redacted-media-r.json")["Body"].read())
    assert redacted["results"]["transcripts"][0]["transcript"] == "call [PII] or mail [PII] today"
    phone = redacted["results"]["items"][1]
    assert phone["start_time"] == "0.50" and phone["end_time"] == "2.40"  # the four words of the number, as one item
    assert phone["alternatives"][0]["redactions"][0]["type"] == "PHONE"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="media", Prefix="results/")["Contents"]]
    if output == "redacted":
        assert keys == ["results/redacted-media-r.json"]
    else:
        unredacted = json.loads(s3.get_object(Bucket="media", Key="results/media-r.json")["Body"].read())
        assert "jane@example.com" in unredacted["results"]["transcripts"][0]["transcript"]


# ---- ECS through Step Functions ---------------------------------------------------------------------------------

def ecs_setup(dns_hostnames: bool = True) -> dict[str, str]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    if dns_hostnames:  # as CDK's Vpc has it; without it moto's RunTask crashes on awsvpc
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="worker", Description="worker", VpcId=vpc)["GroupId"]
    ecs = client("ecs")
    cluster = ecs.create_cluster(clusterName="media")["cluster"]["clusterArn"]
    task = ecs.register_task_definition(
        family="media-worker", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024", memory="2048",
        containerDefinitions=[{"name": "worker", "image": "worker:latest", "essential": True, "memory": 2048,
                               "environment": [{"name": "RESULTS_PREFIX", "value": "results/"}]}],
    )["taskDefinition"]["taskDefinitionArn"]
    return {"cluster": cluster, "task": task, "subnet": subnet, "group": group}


def ecs_definition(ids: dict[str, str]) -> dict[str, Any]:
    return {"StartAt": "Run", "States": {"Run": {
        "Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.waitForTaskToken",
        "Parameters": {"Cluster": ids["cluster"], "TaskDefinition": ids["task"], "LaunchType": "FARGATE",
                       "NetworkConfiguration": {"AwsvpcConfiguration": {
                           "Subnets": [ids["subnet"]], "SecurityGroups": [ids["group"]], "AssignPublicIp": "DISABLED"}},
                       "Overrides": {"ContainerOverrides": [{"Name": "worker", "Environment": [
                           {"Name": "TASK_TOKEN", "Value.$": "$$.Task.Token"}, {"Name": "MEDIA_ID", "Value.$": "$.id"}]}]}},
        "TimeoutSeconds": 20, "End": True}}}


def test_gap_step_functions_run_task_fails_in_plain_moto(plain: None) -> None:
    execution = run_execution(ecs_definition(ecs_setup()), {"id": "m1"})
    assert execution["status"] == "FAILED"
    history = client("stepfunctions").get_execution_history(executionArn=execution["executionArn"])["events"]
    failure = next(e for e in history if e["type"] == "ExecutionFailed")["executionFailedEventDetails"]
    assert failure["error"] == "States.Runtime"  # RunTask got ASL-cased parameters it cannot read


def test_gap_run_task_awsvpc_needs_a_vpc_with_dns_hostnames(plain: None) -> None:
    ids = ecs_setup(dns_hostnames=False)
    with pytest.raises(Exception, match="private_dns_name"):
        client("ecs").run_task(cluster=ids["cluster"], taskDefinition=ids["task"], launchType="FARGATE",
                               networkConfiguration={"awsvpcConfiguration": {"subnets": [ids["subnet"]],
                                                                             "securityGroups": [ids["group"]]}})


def test_run_task_through_step_functions_starts_the_runner(patched: None) -> None:
    environments: list[dict[str, str]] = []

    def runner(environment: dict[str, str]) -> int:
        environments.append(environment)
        boto3.client("stepfunctions", region_name=REGION).send_task_success(
            taskToken=environment["TASK_TOKEN"], output=json.dumps({"media_id": environment["MEDIA_ID"]}))
        return 0

    moto_gaps.install_task_runner({"media-worker": runner})
    ids = ecs_setup()
    execution = run_execution(ecs_definition(ids), {"id": "m1"})
    assert execution["status"] == "SUCCEEDED", execution
    assert json.loads(execution["output"]) == {"media_id": "m1"}
    assert environments[0]["RESULTS_PREFIX"] == "results/" and environments[0]["MEDIA_ID"] == "m1"
    tasks = client("ecs").list_tasks(cluster=ids["cluster"])["taskArns"]
    moto_gaps.wait_for_background_work(10)
    described = client("ecs").describe_tasks(cluster=ids["cluster"], tasks=tasks)["tasks"][0]
    assert described["lastStatus"] == "STOPPED"


def test_run_task_runner_may_be_a_local_process(patched: None) -> None:
    import subprocess

    done: list[int] = []
    moto_gaps.install_task_runner({"media-worker": lambda env: subprocess.Popen(
        [sys.executable, "-c", "import os, sys; sys.exit(0 if os.environ['MEDIA_ID'] == 'm2' else 3)"],
        env={**env, "PATH": "/usr/bin:/bin"})})
    ids = ecs_setup()
    ecs = client("ecs")
    task = ecs.run_task(cluster=ids["cluster"], taskDefinition=ids["task"], launchType="FARGATE",
                        networkConfiguration={"awsvpcConfiguration": {"subnets": [ids["subnet"]], "securityGroups": [ids["group"]]}},
                        overrides={"containerOverrides": [{"name": "worker", "environment": [
                            {"name": "MEDIA_ID", "value": "m2"}]}]})["tasks"][0]["taskArn"]
    moto_gaps.wait_for_background_work(20)
    described = ecs.describe_tasks(cluster=ids["cluster"], tasks=[task])["tasks"][0]
    assert described["lastStatus"] == "STOPPED" and described["containers"][0]["exitCode"] == 0
    del done


# ---- The emulator as a server ------------------------------------------------------------------------------------

def test_server_mode_runs_state_machines_that_call_functions() -> None:
    moto_gaps.uninstall()
    server = moto_gaps.start_server()
    try:
        def make(name: str) -> Any:
            return boto3.client(name, region_name=REGION, endpoint_url=server.endpoint_url)

        moto_gaps.install_lambda_runtime({"double": lambda event, context: {"n": event["n"] * 2}})
        iam = make("iam")
        role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("handler.py", "")
        arn = make("lambda").create_function(FunctionName="double", Runtime="python3.12", Role=role,
                                             Handler="handler.handler", Code={"ZipFile": buffer.getvalue()})["FunctionArn"]
        sfn = make("stepfunctions")
        machine = sfn.create_state_machine(name="m", roleArn=role, definition=json.dumps(
            {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True}}}))["stateMachineArn"]
        execution = sfn.start_execution(stateMachineArn=machine, input='{"n": 4}')["executionArn"]
        described = until(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)
        assert described["status"] == "SUCCEEDED", described
        assert json.loads(described["output"]) == {"n": 8}
    finally:
        server.stop()
        moto_gaps.uninstall()


# ---- Limits: Lambda's timeout and payload quotas -----------------------------------------------------------------

def create_function_with_timeout(name: str, seconds: int) -> str:
    arn = create_function(name)
    client("lambda").update_function_configuration(FunctionName=name, Timeout=seconds)
    return arn


def test_gap_lambda_runtime_ignores_the_timeout(patched: None) -> None:
    create_function_with_timeout("slow", 1)
    moto_gaps.install_lambda_runtime({"slow": lambda event, context: time.sleep(1.2) or {"done": True}})
    response = client("lambda").invoke(FunctionName="slow", Payload="{}")
    assert "FunctionError" not in response and json.loads(response["Payload"].read()) == {"done": True}


def test_lambda_limits_time_out_a_handler_like_lambda(patched: None) -> None:
    import contextvars
    import re

    caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")
    seen: list[str] = []

    def slow(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(caller.get())  # the invoking thread's context reaches the handler's thread
        time.sleep(1.5)
        return {"done": True}

    create_function_with_timeout("slow", 1)
    moto_gaps.install_lambda_runtime({"slow": slow})
    limits.install_lambda_limits()
    caller.set("the test")
    started = time.monotonic()
    response = client("lambda").invoke(FunctionName="slow", Payload="{}")
    assert time.monotonic() - started < 1.4
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "Sandbox.Timedout"
    assert re.fullmatch(r"RequestId: [0-9a-f-]{36} Error: Task timed out after 1\.00 seconds", body["errorMessage"])
    assert seen == ["the test"]


def json_string_of(size: int) -> str:
    """A JSON document of exactly `size` bytes."""
    return json.dumps("x" * (size - 2))


def test_gap_lambda_invoke_has_no_request_limit_and_a_wrong_response_limit(plain: None) -> None:
    calls: list[int] = []
    create_function("echo")
    moto_gaps.install_lambda_runtime({"echo": lambda event, context: calls.append(len(event)) or event})
    client("lambda").invoke(FunctionName="echo", Payload=json_string_of(limits.LAMBDA_SYNC_PAYLOAD_BYTES + 1))
    assert calls  # AWS refuses the request with 413 before the function runs
    response = client("lambda").invoke(FunctionName="echo", Payload=json_string_of(6_100_000))
    assert json.loads(response["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"  # AWS returns it
    moto_gaps.uninstall()


def test_lambda_limits_refuse_payloads_over_the_quotas(patched: None) -> None:
    calls: list[int] = []
    create_function("echo")
    moto_gaps.install_lambda_runtime({"echo": lambda event, context: calls.append(len(event)) or event})
    limits.install_lambda_limits()
    lam = client("lambda")
    for invocation_type, limit in (("RequestResponse", 6_291_456), ("Event", 1_048_576)):
        with pytest.raises(ClientError) as refused:
            lam.invoke(FunctionName="echo", InvocationType=invocation_type, Payload=json_string_of(limit + 1))
        assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        assert f"Request must be smaller than {limit} bytes" in refused.value.response["Error"]["Message"]
    assert calls == []  # refused before the function ran
    response = lam.invoke(FunctionName="echo", Payload=json_string_of(6_291_456))
    assert "FunctionError" not in response and len(response["Payload"].read()) == 6_291_456
    response = lam.invoke(FunctionName="echo", Payload=json_string_of(6_100_000))
    assert "FunctionError" not in response  # under 6 MB: moto's own check refused it
    moto_gaps.install_lambda_runtime({"echo": lambda event, context: event + "x"})  # one byte over
    response = lam.invoke(FunctionName="echo", Payload=json_string_of(6_291_456))
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read()) == {
        "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        "errorType": "Function.ResponseSizeTooLarge"}


# ---- Limits: Step Functions' 256 KB ------------------------------------------------------------------------------

QUOTA = 262_144


def pass_with_output_of(size: int) -> dict[str, Any]:
    """A Pass state whose output serialises (as moto's engine does) to exactly `size` bytes."""
    overhead = len(json.dumps({"a": ""}))
    return {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"a": "x" * (size - overhead)}, "End": True}}}


def big_result_machine(arn: str, catch: list[str]) -> dict[str, Any]:
    return {"StartAt": "Big", "States": {
        "Big": {"Type": "Task", "Resource": arn, "Next": "Done",
                "Catch": [{"ErrorEquals": catch, "ResultPath": "$.error", "Next": "Caught"}]},
        "Caught": {"Type": "Pass", "End": True}, "Done": {"Type": "Pass", "End": True}}}


def test_gap_step_functions_refuse_the_quota_and_catch_data_limit_with_states_all(plain: None) -> None:
    assert run_execution(pass_with_output_of(QUOTA))["status"] == "FAILED"  # AWS allows 262,144 bytes
    arn = create_function("big")
    moto_gaps.install_lambda_runtime({"big": lambda event, context: {"blob": "x" * 300_000}})
    caught = run_execution(big_result_machine(arn, ["States.ALL"]))
    assert caught["status"] == "SUCCEEDED"  # AWS documents States.ALL as not catching it
    assert json.loads(caught["output"])["error"]["Error"] == "States.DataLimitExceeded"
    moto_gaps.uninstall()


def test_state_limits_allow_the_quota_and_fail_past_it(patched: None) -> None:
    limits.install_state_limits()
    assert run_execution(pass_with_output_of(QUOTA))["status"] == "SUCCEEDED"
    failed = run_execution(pass_with_output_of(QUOTA + 1))
    assert (failed["status"], failed["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert failed["cause"] == "The state/task 'P' returned a result with a size exceeding the maximum number of bytes service limit."


def test_state_limits_make_data_limit_exceeded_terminal_for_states_all(patched: None) -> None:
    arn = create_function("big")
    moto_gaps.install_lambda_runtime({"big": lambda event, context: {"blob": "x" * 300_000}})
    limits.install_state_limits()
    uncaught = run_execution(big_result_machine(arn, ["States.ALL"]))
    assert (uncaught["status"], uncaught["error"]) == ("FAILED", "States.DataLimitExceeded")
    assert uncaught["cause"] == (f"The state/task '{arn}' returned a result with a size exceeding the maximum "
                                 "number of bytes service limit.")
    caught = run_execution(big_result_machine(arn, ["States.DataLimitExceeded"]))
    assert caught["status"] == "SUCCEEDED"
    assert json.loads(caught["output"])["error"]["Error"] == "States.DataLimitExceeded"


def test_state_limits_check_a_task_input_after_parameters_and_a_map_result(patched: None) -> None:
    arn = create_function("small")
    moto_gaps.install_lambda_runtime({"small": lambda event, context: {"ok": True}})
    doubled = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": arn, "End": True,
                                                "Parameters": {"a.$": "$.blob", "b.$": "$.blob"}}}}
    mapped = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "ItemsPath": "$.items", "ResultPath": None, "End": True,
        "ItemProcessor": {"StartAt": "Grow", "States": {"Grow": {"Type": "Pass", "Result": {
            "blob": "x" * 100_000}, "End": True}}}}}}  # three small items, a 300 KB result, discarded
    blob = "x" * 150_000
    assert run_execution(doubled, {"blob": blob})["status"] == "SUCCEEDED"  # plain moto: 300 KB passed on
    assert run_execution(mapped, {"items": [1, 2, 3]})["status"] == "SUCCEEDED"
    limits.install_state_limits()
    for definition, execution_input, state in ((doubled, {"blob": blob}, "T"), (mapped, {"items": [1, 2, 3]}, "M")):
        failed = run_execution(definition, execution_input)
        assert (failed["status"], failed["error"]) == ("FAILED", "States.DataLimitExceeded"), state
        assert failed["cause"].startswith(f"The state/task '{state}' returned a result with a size exceeding")


def callback_machine(arn: str) -> str:
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", roleArn=f"arn:aws:iam::{ACCOUNT}:role/sfn",
                                       definition=json.dumps({"StartAt": "W", "States": {"W": {
                                           "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                           "Parameters": {"FunctionName": arn, "Payload": {"token.$": "$$.Task.Token"}},
                                           "TimeoutSeconds": 20, "End": True}}}))["stateMachineArn"]
    return sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]


def test_gap_send_task_success_takes_any_output(plain: None) -> None:
    tokens: list[str] = []
    arn = create_function("start_job")
    moto_gaps.install_lambda_runtime({"start_job": lambda event, context: tokens.append(event["token"]) or {}})
    callback_machine(arn)
    until(lambda: tokens)
    client("stepfunctions").send_task_success(taskToken=tokens[0], output=json_string_of(QUOTA + 1))
    moto_gaps.uninstall()


def test_state_limits_refuse_a_send_task_success_output_over_the_quota(patched: None) -> None:
    tokens: list[str] = []
    arn = create_function("start_job")
    moto_gaps.install_lambda_runtime({"start_job": lambda event, context: tokens.append(event["token"]) or {}})
    limits.install_state_limits()
    execution = callback_machine(arn)
    until(lambda: tokens)
    sfn = client("stepfunctions")
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=tokens[0], output=json_string_of(QUOTA + 1))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "Member must have length less than or equal to 262144" in refused.value.response["Error"]["Message"]
    sfn.send_task_success(taskToken=tokens[0], output=json_string_of(QUOTA))  # the task still waits; this fits
    described = until(lambda: (d := sfn.describe_execution(executionArn=execution))["status"] != "RUNNING" and d)
    assert described["status"] == "SUCCEEDED" and "x" * (QUOTA - 2) in described["output"]


# ---- Limits: SQS → Lambda polling ------------------------------------------------------------------------------

def queue_with_dlq(visibility_timeout: int, max_receives: int) -> tuple[str, str, str]:
    sqs = client("sqs")
    dlq = sqs.create_queue(QueueName="jobs-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="jobs", Attributes={
        "VisibilityTimeout": str(visibility_timeout),
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, dlq, arn


def send_batch(queue: str, bodies: list[str]) -> None:
    client("sqs").send_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "MessageBody": b}
                                                              for i, b in enumerate(bodies)])


def failing_consumer(batches: list[list[tuple[str, str]]], fail: set[str]) -> Callable[[dict[str, Any], Any], Any]:
    """Records (body, receive count) per batch and reports the bodies in `fail` as batch item failures."""
    def consume(event: dict[str, Any], context: Any) -> dict[str, Any]:
        records = event["Records"]
        batches.append([(r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in records])
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if r["body"] in fail]}
    return consume


def messages_in(queue: str) -> int:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def test_gap_sqs_mapping_delivers_one_message_at_a_time_and_ignores_failures(patched: None) -> None:
    batches: list[list[tuple[str, str]]] = []
    queue, dlq, arn = queue_with_dlq(1, 2)
    create_function("consume")
    moto_gaps.install_lambda_runtime({"consume": failing_consumer(batches, {"b"})})
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="consume", BatchSize=10,
                                                 FunctionResponseTypes=["ReportBatchItemFailures"])
    send_batch(queue, ["a", "b", "c"])
    assert batches == [[("a", "1")], [("b", "1")], [("c", "1")]]  # inside SendMessage, one by one
    assert messages_in(queue) == 0 and messages_in(dlq) == 0  # "b" reported failed, deleted all the same


def test_sqs_polling_batches_keeps_failures_redelivers_them_and_moves_them_to_the_dlq(patched: None) -> None:
    batches: list[list[tuple[str, str]]] = []
    queue, dlq, arn = queue_with_dlq(1, 2)
    create_function("consume")
    moto_gaps.install_lambda_runtime({"consume": failing_consumer(batches, {"b"})})
    sqs_polling.install_sqs_polling()
    send_batch(queue, ["a", "b", "c"])
    assert batches == []  # nothing runs inside SendMessage
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="consume", BatchSize=10,
                                                 FunctionResponseTypes=["ReportBatchItemFailures"])
    until(lambda: batches)
    assert batches[0] == [("a", "1"), ("b", "1"), ("c", "1")]  # one batch
    time.sleep(0.6)
    assert len(batches) == 1 and messages_in(queue) == 1  # "b" is invisible for the visibility timeout
    until(lambda: len(batches) == 2, timeout=5)
    assert batches[1] == [("b", "2")]
    dead = until(lambda: client("sqs").receive_message(QueueUrl=dlq).get("Messages"), timeout=5)
    assert [m["Body"] for m in dead] == ["b"] and messages_in(queue) == 0 and len(batches) == 2


def test_sqs_polling_keeps_the_whole_batch_after_an_unhandled_error(patched: None) -> None:
    batches: list[list[str]] = []

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        batches.append([r["body"] for r in event["Records"]])
        if len(batches) == 1:
            raise Failing("the first delivery breaks")
        return {"batchItemFailures": []}

    queue, _, arn = queue_with_dlq(1, 5)
    create_function("consume")
    moto_gaps.install_lambda_runtime({"consume": flaky})
    sqs_polling.install_sqs_polling()
    send_batch(queue, ["a", "b"])
    client("lambda").create_event_source_mapping(EventSourceArn=arn, FunctionName="consume", BatchSize=10,
                                                 FunctionResponseTypes=["ReportBatchItemFailures"])
    until(lambda: len(batches) == 2, timeout=5)
    assert sorted(batches[0]) == sorted(batches[1]) == ["a", "b"]
    until(lambda: messages_in(queue) == 0)
    moto_gaps.uninstall()
    assert not [t for t in __import__("threading").enumerate() if t.name.startswith("esm-")]


def test_batch_item_failures_are_read_as_lambda_reads_them() -> None:
    batch = ["m1", "m2"]
    assert sqs_polling.failed_message_ids(b'{"batchItemFailures": [{"itemIdentifier": "m2"}]}', batch) == {"m2"}
    assert sqs_polling.failed_message_ids(b'{"batchItemFailures": []}', batch) == set()
    assert sqs_polling.failed_message_ids(b"null", batch) == set()
    assert sqs_polling.failed_message_ids(b'{"batchItemFailures": [{"itemIdentifier": ""}]}', batch) == set(batch)
    assert sqs_polling.failed_message_ids(b'{"batchItemFailures": [{"itemIdentifier": "m9"}]}', batch) == set(batch)
    assert sqs_polling.failed_message_ids(b"not json", batch) == set(batch)


# ---- Limits: S3 keys in EventBridge events -----------------------------------------------------------------------

def uploaded_key(name: str) -> str:
    received: list[dict[str, Any]] = []
    moto_gaps.install_event_delivery()
    make_upload_path(lambda event, context: received.append(event) or {"batchItemFailures": []})
    client("s3").put_object(Bucket="media", Key=name, Body=b"RIFF")
    until(lambda: received)
    return json.loads(received[0]["Records"][0]["body"])["detail"]["object"]["key"]


def test_gap_s3_eventbridge_events_carry_the_raw_key(patched: None) -> None:
    assert uploaded_key("uploads/café + notes (1).wav") == "uploads/café + notes (1).wav"


def test_s3_event_keys_are_encoded_as_s3_encodes_them(patched: None) -> None:
    limits.install_s3_event_keys()
    assert uploaded_key("uploads/café + notes (1).wav") == "uploads/caf%C3%A9+%2B+notes+%281%29.wav"


# ---- SQS message move tasks (DLQ redrive) ---------------------------------------------------------------------

def dead_letters(bodies: list[str]) -> tuple[str, str, str]:
    """A queue whose DLQ holds `bodies` (each received once with maxReceiveCount 1, then moved by moto)."""
    queue, dlq, _ = queue_with_dlq(0, 1)
    send_batch(queue, bodies)
    sqs = client("sqs")
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)  # past maxReceiveCount: moto moves them
    assert messages_in(dlq) == len(bodies) and messages_in(queue) == 0
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, dlq, dlq_arn


def test_gap_sqs_has_no_message_move_tasks(plain: None) -> None:
    _, _, dlq_arn = dead_letters(["a"])
    with pytest.raises(NotImplementedError):
        client("sqs").start_message_move_task(SourceArn=dlq_arn)
    with pytest.raises(NotImplementedError):
        client("sqs").list_message_move_tasks(SourceArn=dlq_arn)


def test_message_move_task_moves_a_dlq_back_to_its_source_queue(patched: None) -> None:
    moto_gaps.install_message_move_tasks()
    queue, dlq, dlq_arn = dead_letters(["a", "b"])
    sqs = client("sqs")
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert json.loads(__import__("base64").b64decode(handle))["sourceArn"] == dlq_arn
    [task] = until(lambda: [t for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
                            if t["Status"] == "COMPLETED"])
    assert task["ApproximateNumberOfMessagesToMove"] == 2 and task["ApproximateNumberOfMessagesMoved"] == 2
    assert "TaskHandle" not in task and task["SourceArn"] == dlq_arn
    moved = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in moved) == ["a", "b"]
    assert {m["Attributes"]["ApproximateReceiveCount"] for m in moved} == {"1"}  # new messages
    assert messages_in(dlq) == 0


def test_message_move_task_refuses_a_queue_that_is_no_dlq(patched: None) -> None:
    moto_gaps.install_message_move_tasks()
    _, _, queue_arn = queue_with_dlq(0, 1)
    sqs = client("sqs")
    with pytest.raises(sqs.exceptions.UnsupportedOperation, match="Dead Letter Queue"):  # SQS's own words
        sqs.start_message_move_task(SourceArn=queue_arn)
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.start_message_move_task(SourceArn=queue_arn + "-nowhere")


# ---- S3 requests a browser makes: POST uploads with a policy, presigned links ------------------------------------

def _post_upload(post: dict[str, Any], body: bytes, **changes: str) -> Any:
    import requests

    return requests.post(post["url"], data={**post["fields"], **changes}, files={"file": ("f.bin", body)})


def _policy_post(bucket: str = "media-bucket") -> dict[str, Any]:
    s3 = boto3.client("s3", region_name=REGION, config=__import__("botocore.config").config.Config(signature_version="s3v4"))
    s3.create_bucket(Bucket=bucket)
    return s3.generate_presigned_post(bucket, "uploads/alice/talk.mp3", Fields={"Content-Type": "audio/mpeg"},
                                      Conditions=[{"Content-Type": "audio/mpeg"}, ["content-length-range", 1, 100]],
                                      ExpiresIn=60)


def _keys(bucket: str = "media-bucket") -> list[str]:
    return [o["Key"] for o in client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_gap_plain_moto_stores_a_post_upload_that_breaks_its_policy(plain: Any) -> None:
    post = _policy_post()
    response = _post_upload(post, b"x" * 500, key="elsewhere/evil.mp3")
    assert response.status_code == 204
    assert _keys() == ["elsewhere/evil.mp3"]


def test_workaround_post_uploads_are_held_to_their_policy(patched: Any) -> None:
    credentials = boto3.Session().get_credentials()  # mock_aws's own
    moto_gaps.install_post_policy(secrets={credentials.access_key: credentials.secret_key})
    post = _policy_post()
    outside = _post_upload(post, b"x" * 10, key="uploads/bob/talk.mp3")
    assert outside.status_code == 403 and "Policy Condition failed" in outside.text and '"$key"' in outside.text
    too_large = _post_upload(post, b"x" * 101)
    assert too_large.status_code == 400 and "EntityTooLarge" in too_large.text
    empty = _post_upload(post, b"")
    assert empty.status_code == 400 and "EntityTooSmall" in empty.text
    other_type = _post_upload(post, b"x" * 10, **{"Content-Type": "text/html"})
    assert other_type.status_code == 403 and "Content-Type" in other_type.text
    forged = _post_upload(post, b"x" * 10, **{"x-amz-signature": "0" * 64})
    assert forged.status_code == 403 and "SignatureDoesNotMatch" in forged.text
    assert _keys() == []
    assert _post_upload(post, b"x" * 100).status_code == 204
    assert _keys() == ["uploads/alice/talk.mp3"]


def test_workaround_post_policy_expiry_and_extra_fields() -> None:
    fields = {"key": "uploads/a/b", "policy": "", "x-amz-credential": "testing/20260101/us-east-1/s3/aws4_request",
              "x-amz-algorithm": "AWS4-HMAC-SHA256"}
    assert moto_gaps.post_policy_problem("b", {**fields, "policy": ""}, 1, {"testing": "testing"})[1] == "AccessDenied"
    import base64 as b64
    import hashlib
    import hmac

    def signed(policy: dict[str, Any], **extra: str) -> dict[str, str]:
        encoded = b64.b64encode(json.dumps(policy).encode()).decode()
        key = b"AWS4testing"
        for part in ("20260101", "us-east-1", "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        return {**fields, **extra, "policy": encoded,
                "x-amz-signature": hmac.new(key, encoded.encode(), hashlib.sha256).hexdigest()}

    policy = {"expiration": "2026-01-01T00:10:00Z", "conditions": [{"bucket": "b"}, ["starts-with", "$key", "uploads/a/"],
                                                                   {"x-amz-credential": fields["x-amz-credential"]},
                                                                   {"x-amz-algorithm": "AWS4-HMAC-SHA256"}]}
    january = 1767225600.0  # 2026-01-01T00:00:00Z
    assert moto_gaps.post_policy_problem("b", signed(policy), 1, {"testing": "testing"}, now=january) is None
    expired = moto_gaps.post_policy_problem("b", signed(policy), 1, {"testing": "testing"}, now=january + 601)
    assert expired == (403, "AccessDenied", "Invalid according to Policy: Policy expired.")
    extra = moto_gaps.post_policy_problem("b", signed(policy, acl="public-read"), 1, {"testing": "testing"}, now=january)
    assert extra is not None and "Extra input fields: acl" in extra[2]


def test_gap_plain_moto_serves_an_expired_presigned_url(plain: Any) -> None:
    import requests

    s3 = client("s3")
    s3.create_bucket(Bucket="media-bucket")
    s3.put_object(Bucket="media-bucket", Key="results/m/captions.vtt", Body=b"WEBVTT")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "media-bucket", "Key": "results/m/captions.vtt"},
                                    ExpiresIn=1)
    time.sleep(2.1)
    assert requests.get(url).status_code == 200


def test_workaround_presigned_urls_expire(patched: Any) -> None:
    import requests

    moto_gaps.install_presigned_url_expiry()
    s3 = boto3.client("s3", region_name=REGION, config=__import__("botocore.config").config.Config(signature_version="s3v4"))
    s3.create_bucket(Bucket="media-bucket")
    s3.put_object(Bucket="media-bucket", Key="results/m/captions.vtt", Body=b"WEBVTT")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "media-bucket", "Key": "results/m/captions.vtt"},
                                    ExpiresIn=1)
    assert requests.get(url).text == "WEBVTT"
    time.sleep(2.1)
    expired = requests.get(url)
    assert expired.status_code == 403 and "Request has expired" in expired.text
    assert moto_gaps.presigned_url_expired({"Expires": ["100"], "Signature": ["x"]}, now=101)


def test_gap_a_second_moto_server_in_one_process_sees_the_first_ones_resources() -> None:
    from moto.server import ThreadedMotoServer

    moto_gaps.uninstall()
    first = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    first.start()
    try:
        host, port = first.get_host_and_port()
        boto3.client("s3", region_name=REGION, endpoint_url=f"http://{host}:{port}").create_bucket(Bucket="left-over")
    finally:
        first.stop()
    second = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    second.start()
    try:
        host, port = second.get_host_and_port()
        buckets = boto3.client("s3", region_name=REGION, endpoint_url=f"http://{host}:{port}").list_buckets()["Buckets"]
        assert [b["Name"] for b in buckets] == ["left-over"]
    finally:
        second.stop()

    server = moto_gaps.start_server()  # the workaround: a fresh account
    try:
        assert boto3.client("s3", region_name=REGION, endpoint_url=server.endpoint_url).list_buckets()["Buckets"] == []
    finally:
        server.stop()
