"""The moto gaps behind bursts and faults (quotas, stopped executions, status change events, schedules): plain moto
still has each gap, and media_pipeline.local.moto_gaps closes it."""
from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from media_pipeline.local import moto_gaps, quotas
from tests.local.test_moto_gaps import _credentials, client, create_function, patched, plain, until

__all__ = ["_credentials", "patched", "plain"]  # the fixtures this module uses, shared with test_moto_gaps (pyflakes)

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})


def bare(name: str) -> Any:
    import boto3

    return boto3.client(name, region_name="us-east-1", config=NO_RETRIES)


def one_page_png() -> bytes:
    from tests.document_factory import image_bytes

    return image_bytes(("Quota",))


def error_code(call) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"]


# ---- quotas and faults -------------------------------------------------------------------------------------------

def test_gap_moto_serves_every_request_however_many(plain: None) -> None:
    textract = bare("textract")
    for _ in range(30):
        textract.detect_document_text(Document={"Bytes": one_page_png()})


def test_rate_quotas_answer_with_the_services_throttling_error(patched: None) -> None:
    moto_gaps.install_ai_engines(textract=lambda document: [])
    moto_gaps.install_capacity(quotas.Quotas(textract_detect_per_second=2, start_execution_bucket=1,
                                             start_execution_per_second=0.01))
    textract = bare("textract")
    document = {"Bytes": one_page_png()}
    textract.detect_document_text(Document=document)
    textract.detect_document_text(Document=document)
    assert error_code(lambda: textract.detect_document_text(Document=document)) == \
        "ProvisionedThroughputExceededException"
    time.sleep(0.6)  # the bucket refills at 2 a second
    textract.detect_document_text(Document=document)
    sfn = bare("stepfunctions")
    role = client("iam").create_role(RoleName="sm", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    machine = sfn.create_state_machine(name="m", roleArn=role, definition=json.dumps(
        {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    sfn.start_execution(stateMachineArn=machine)
    assert error_code(lambda: sfn.start_execution(stateMachineArn=machine)) == "ThrottlingException"
    report = quotas.report()
    assert report["over_quota"]["textract:DetectDocumentText"] == 1 and report["over_quota"]["sfn"] == 1


def test_botocore_retries_a_refusal_as_it_would_aws(patched: None) -> None:
    """A client with retries sees the quota's refusal, waits and succeeds: the refusal is a real HTTP answer."""
    import boto3

    moto_gaps.install_ai_engines(textract=lambda document: [])
    moto_gaps.install_capacity(quotas.Quotas(textract_detect_per_second=1))
    textract = boto3.client("textract", region_name="us-east-1",
                            config=Config(retries={"mode": "standard", "max_attempts": 5}))
    for _ in range(3):
        textract.detect_document_text(Document={"Bytes": one_page_png()})
    assert quotas.report()["over_quota"]["textract"] >= 1


def test_injected_faults_speak_each_services_protocol(patched: None) -> None:
    moto_gaps.install_capacity(faults=quotas.Faults.parse("s3=1,dynamodb=1,bedrock-runtime=1,transcribe=1", seed=3))
    assert error_code(lambda: bare("s3").list_buckets()) == "InternalError"
    assert error_code(lambda: bare("dynamodb").list_tables()) == "InternalServerError"
    assert error_code(lambda: bare("bedrock-runtime").converse(
        modelId="m", messages=[{"role": "user", "content": [{"text": "hi"}]}])) == "ThrottlingException"
    assert error_code(lambda: bare("transcribe").list_transcription_jobs()) == "LimitExceededException"
    assert quotas.report()["injected_faults"]["s3"] == 1


def test_faults_are_written_service_rate_kind() -> None:
    assert quotas.Faults.parse("textract=0.3,s3=0.05").rates == {"textract": (0.3, "throttle"), "s3": (0.05, "5xx")}
    assert quotas.Faults.parse("s3=0.5:throttle").rates == {"s3": (0.5, "throttle")}
    for wrong in ("textract", "s3=2", "s3=0.1:maybe"):
        with pytest.raises(ValueError):
            quotas.Faults.parse(wrong)


def test_gap_transcribe_runs_any_number_of_jobs(plain: None) -> None:
    transcribe = bare("transcribe")
    for n in range(3):
        transcribe.start_transcription_job(TranscriptionJobName=f"job-{n}", LanguageCode="en-US",
                                           Media={"MediaFileUri": "s3://bucket/audio.wav"})


def _audio_bucket() -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="media")
    s3.put_object(Bucket="media", Key="audio.wav", Body=b"RIFF....WAVE")


def test_transcribe_refuses_past_its_quota_or_queues_with_deferred_execution(patched: None) -> None:
    moto_gaps.install_ai_engines(transcribe=lambda audio, language: {"results": {"transcripts": [{"transcript": "x"}]}})
    moto_gaps.install_capacity(quotas.Quotas(transcribe_concurrent_jobs=1, min_job_seconds=0.5))
    _audio_bucket()
    role = client("iam").create_role(RoleName="transcribe-data", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    transcribe = bare("transcribe")
    media = {"MediaFileUri": "s3://media/audio.wav"}
    first = transcribe.start_transcription_job(TranscriptionJobName="first", LanguageCode="en-US", Media=media,
                                               OutputBucketName="media")
    assert first["TranscriptionJob"]["TranscriptionJobStatus"] == "IN_PROGRESS"
    assert error_code(lambda: transcribe.start_transcription_job(
        TranscriptionJobName="refused", LanguageCode="en-US", Media=media)) == "LimitExceededException"
    queued = transcribe.start_transcription_job(
        TranscriptionJobName="queued", LanguageCode="en-US", Media=media, OutputBucketName="media",
        JobExecutionSettings={"AllowDeferredExecution": True, "DataAccessRoleArn": role})
    assert queued["TranscriptionJob"]["TranscriptionJobStatus"] == "QUEUED"
    until(lambda: transcribe.get_transcription_job(TranscriptionJobName="queued")["TranscriptionJob"]
          ["TranscriptionJobStatus"] == "COMPLETED", timeout=10)
    assert quotas.report()["max_concurrent_transcribe_jobs"] == 1


def test_textract_refuses_asynchronous_jobs_past_its_quota(patched: None) -> None:
    moto_gaps.install_ai_engines(textract=lambda document: [])
    moto_gaps.install_capacity(quotas.Quotas(textract_concurrent_jobs=1, min_job_seconds=0.5))
    s3 = client("s3")
    s3.create_bucket(Bucket="docs")
    s3.put_object(Bucket="docs", Key="scan.pdf", Body=b"%PDF-1.4")
    textract = bare("textract")
    location = {"S3Object": {"Bucket": "docs", "Name": "scan.pdf"}}
    textract.start_document_text_detection(DocumentLocation=location)
    assert error_code(lambda: textract.start_document_text_detection(DocumentLocation=location)) == \
        "LimitExceededException"
    time.sleep(1.0)  # the first job ended: its slot is free
    textract.start_document_text_detection(DocumentLocation=location)


# ---- Step Functions: stopping, and status change events ------------------------------------------------------

def _waiting_execution() -> tuple[Any, str]:
    function = create_function("waits")
    role = client("iam").create_role(RoleName="sm-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name="waits", roleArn=role, definition=json.dumps({
        "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                                         "TimeoutSeconds": 300, "End": True,
                                         "Parameters": {"FunctionName": function, "Payload": {"t.$": "$$.Task.Token"}}}}}))
    execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name="e1")["executionArn"]
    time.sleep(0.5)
    return sfn, execution


def test_gap_stop_execution_leaves_a_task_token_wait_running(plain: None) -> None:
    sfn, execution = _waiting_execution()
    sfn.stop_execution(executionArn=execution, error="Stopped", cause="test")
    time.sleep(1.0)  # RUNNING until the wait ends, then FAILED (States.Runtime or States.Timeout): never ABORTED
    assert sfn.describe_execution(executionArn=execution)["status"] in ("RUNNING", "FAILED")


def test_stop_execution_ends_a_task_token_wait_aborted(patched: None) -> None:
    moto_gaps.install_stop_execution()
    sfn, execution = _waiting_execution()
    sfn.stop_execution(executionArn=execution, error="Stopped", cause="test")
    until(lambda: sfn.describe_execution(executionArn=execution)["status"] != "RUNNING", timeout=5)
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"


def _queue_for(rule_name: str, **rule: Any) -> str:
    sqs, events = client("sqs"), client("events")
    url = sqs.create_queue(QueueName=f"{rule_name}-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=rule_name, **rule)
    events.put_targets(Rule=rule_name, Targets=[{"Id": "q", "Arn": arn}])
    return url


def _received(url: str, wait: float = 0.0) -> list[dict[str, Any]]:
    time.sleep(wait)
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


ENDED = json.dumps({"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]})


def test_gap_executions_put_no_status_change_events(plain: None) -> None:
    url = _queue_for("ended", EventPattern=ENDED)
    sfn, execution = _waiting_execution()
    sfn.send_task_success(taskToken=_token(execution), output="{}")
    until(lambda: sfn.describe_execution(executionArn=execution)["status"] == "SUCCEEDED", timeout=5)
    assert _received(url, wait=0.5) == []


def _token(execution: str) -> str:
    history = client("stepfunctions").get_execution_history(executionArn=execution)["events"]
    scheduled = next(e for e in history if e["type"] == "TaskScheduled")
    return json.loads(scheduled["taskScheduledEventDetails"]["parameters"])["Payload"]["t"]


def test_executions_put_their_status_change_events(patched: None) -> None:
    moto_gaps.install_execution_events()
    moto_gaps.install_stop_execution()
    url = _queue_for("ended", EventPattern=ENDED)
    sfn, execution = _waiting_execution()
    sfn.stop_execution(executionArn=execution, error="Stopped", cause="test")
    [event] = until(lambda: _received(url), timeout=5)
    assert event["detail"]["status"] == "ABORTED" and event["detail"]["name"] == "e1"
    assert event["detail"]["executionArn"] == execution and event["resources"] == [execution]


# ---- EventBridge schedules -----------------------------------------------------------------------------------

def test_gap_schedules_never_fire_and_match_every_event(plain: None) -> None:
    url = _queue_for("every-minute", ScheduleExpression="rate(1 minute)")
    client("events").put_events(Entries=[{"Source": "app", "DetailType": "Something", "Detail": "{}"}])
    received = _received(url, wait=0.5)
    assert [e["detail-type"] for e in received] == ["Something"]  # AWS sends a schedule rule its schedule only


def test_schedules_fire_at_their_rate_and_only_for_themselves(patched: None) -> None:
    moto_gaps.install_event_delivery()
    moto_gaps.install_schedules(time_scale=1 / 60, tick=0.05)  # a minute lasts a second
    url = _queue_for("every-minute", ScheduleExpression="rate(1 minute)")
    client("events").put_events(Entries=[{"Source": "app", "DetailType": "Something", "Detail": "{}"}])
    events = until(lambda: _received(url), timeout=5)
    assert [e["detail-type"] for e in events] == ["Scheduled Event"] and events[0]["source"] == "aws.events"
    assert moto_gaps.schedule_seconds("rate(5 minutes)") == 300.0 and moto_gaps.schedule_seconds("cron(0 * * * ? *)") is None
