"""The audio path's handlers on moto: content in, content out."""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import Stubber

from media_pipeline.local import iam
from tests.conftest import BUCKET, TABLE
from tests.document_factory import image_bytes, text_pdf
from tests.functions.s3_faults import answer_head_object_with
from tests.media_factory import wav_bytes

DATA = Path(__file__).parent.parent / "data"




def s3_event_message(key: str, version_id: str | None = None) -> dict:
    """An SQS record whose body is the EventBridge 'Object Created' event for the key."""
    detail = {"bucket": {"name": BUCKET}, "object": {"key": key, "size": 1, "etag": "x"}}
    if version_id:
        detail["object"]["version-id"] = version_id
    body = {"version": "0", "id": "e1", "detail-type": "Object Created", "source": "aws.s3",
            "account": "123456789012", "region": "us-east-1", "resources": [f"arn:aws:s3:::{BUCKET}"], "detail": detail}
    return {"messageId": f"m-{key}", "receiptHandle": "r", "body": json.dumps(body), "attributes": {},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:ingest", "awsRegion": "us-east-1"}


@pytest.fixture
def state_machine(aws, monkeypatch):
    sfn = boto3.client("stepfunctions")
    arn = sfn.create_state_machine(
        name="media-pipeline", roleArn="arn:aws:iam::123456789012:role/sfn",
        definition=json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}))["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    from tests.conftest import reset_runtime_caches

    reset_runtime_caches()
    return arn


def executions(arn: str) -> list[dict]:
    sfn = boto3.client("stepfunctions")
    found = sfn.list_executions(stateMachineArn=arn)["executions"]
    return [sfn.describe_execution(executionArn=e["executionArn"]) for e in found]


def manifest_of(media_id: str) -> dict:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"results/{media_id}/manifest.json")["Body"].read()
    return json.loads(body)


def ingest(records: list[dict]) -> dict:
    from functions.ingest.handler import handler

    return handler({"Records": records}, LambdaContext())


class LambdaContext:
    function_name = "ingest"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ingest"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


def test_upload_with_a_space_in_its_name_starts_one_execution(state_machine):
    s3 = boto3.client("s3")
    version = s3.put_object(Bucket=BUCKET, Key="uploads/my talk.wav", Body=wav_bytes(0.5))["VersionId"]
    result = ingest([s3_event_message("uploads/my+talk.wav", version)])
    assert result == {"batchItemFailures": []}
    [execution] = executions(state_machine)
    state = json.loads(execution["input"])
    media = state["media"]
    assert media["key"] == "uploads/my talk.wav"
    assert (media["media_type"], media["detected_format"], media["version_id"]) == ("audio", "wav", version)
    assert execution["name"] == media["media_id"] and state["steps"] == {}
    job = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"MEDIA#{media['media_id']}"}, "sk": {"S": "JOB"}})["Item"]
    assert job["status"]["S"] == "RUNNING"


def test_the_same_event_three_times_gives_one_execution(state_machine):
    s3 = boto3.client("s3")
    version = s3.put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=wav_bytes(0.5))["VersionId"]
    for _ in range(3):
        ingest([s3_event_message("uploads/a.wav", version)])
    assert len(executions(state_machine)) == 1
    items = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert len(items) == 1


def test_a_new_version_of_the_same_key_is_a_new_item(state_machine):
    s3 = boto3.client("s3")
    first = s3.put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=wav_bytes(0.5))["VersionId"]
    second = s3.put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=wav_bytes(0.7))["VersionId"]
    ingest([s3_event_message("uploads/a.wav", first), s3_event_message("uploads/a.wav", second)])
    assert len({e["name"] for e in executions(state_machine)}) == 2


@pytest.mark.parametrize("name, body, code", [
    ("empty.wav", b"", "EMPTY_OBJECT"),
    ("setup.mp3", b"MZ\x90\x00" + b"\x00" * 200, "UNSUPPORTED_MEDIA_TYPE"),
    ("notes.pdf", b"just some text, not a PDF", "UNSUPPORTED_MEDIA_TYPE"),
])
def test_rejected_uploads_get_a_failed_manifest_and_no_execution(state_machine, name, body, code):
    s3 = boto3.client("s3")
    version = s3.put_object(Bucket=BUCKET, Key=f"uploads/{name}", Body=body)["VersionId"]
    assert ingest([s3_event_message(f"uploads/{name}", version)]) == {"batchItemFailures": []}
    assert executions(state_machine) == []
    [item] = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    manifest = manifest_of(item["media_id"]["S"])
    assert manifest["status"] == "FAILED" and manifest["error"]["code"] == code
    assert manifest["source"]["key"] == f"uploads/{name}"
    assert item["status"]["S"] == "FAILED" and item["error_code"]["S"] == code


def test_oversize_upload_is_rejected(state_machine, monkeypatch):
    monkeypatch.setenv("MAX_MEDIA_BYTES", "1000")
    from tests.conftest import reset_runtime_caches

    reset_runtime_caches()
    s3 = boto3.client("s3")
    version = s3.put_object(Bucket=BUCKET, Key="uploads/big.wav", Body=wav_bytes(1))["VersionId"]
    ingest([s3_event_message("uploads/big.wav", version)])
    [item] = boto3.client("dynamodb").scan(TableName=TABLE)["Items"]
    assert manifest_of(item["media_id"]["S"])["error"]["code"] == "OBJECT_TOO_LARGE"


def test_a_record_that_breaks_is_reported_as_a_partial_failure(state_machine, monkeypatch):
    s3 = boto3.client("s3")
    version = s3.put_object(Bucket=BUCKET, Key="uploads/ok.wav", Body=wav_bytes(0.5))["VersionId"]
    broken = s3_event_message("uploads/ok.wav", version)
    broken["messageId"] = "broken"
    broken["body"] = "{not json"
    result = ingest([s3_event_message("uploads/ok.wav", version), broken])
    assert result == {"batchItemFailures": [{"itemIdentifier": "broken"}]}
    assert len(executions(state_machine)) == 1


MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64
# Object names as uploaded, their content, and what ingest must detect. S3 encodes each key in its events.
AWKWARD_NAMES = [
    ("my talk.wav", wav_bytes(0.2), "wav"),
    ("c++ notes.pdf", text_pdf([["C++ notes"]]), "pdf"),
    ("résumé (1).png", image_bytes(("Resume",), size=(200, 100)), "png"),
    ("100% done.mp4", MP4_HEAD, "mp4"),
    ("fee%2Bcharges.wav", wav_bytes(0.2), "wav"),  # a literal '%2B': decoding twice would turn it into '+'
]


def s3_encoded(key: str) -> str:
    """How S3 writes a key into its event notifications: URL-encoded, '+' for a space, '/' kept."""
    return quote_plus(key, safe="/")


def s3_notification(key: str, version_id: str | None = None) -> dict:
    """An S3 event notification record (the Records form) for an already encoded key."""
    obj = {"key": key, "size": 1, "eTag": "x", **({"versionId": version_id} if version_id else {})}
    return {"eventName": "ObjectCreated:Put", "s3": {"bucket": {"name": BUCKET}, "object": obj}}


def job_items() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


@pytest.mark.parametrize("name, body, fmt", AWKWARD_NAMES, ids=[n for n, _, _ in AWKWARD_NAMES])
def test_encoded_keys_are_decoded_once_end_to_end(state_machine, name, body, fmt):
    from functions.ingest.handler import ingest_upload, uploads_in

    key = f"uploads/{name}"
    version = boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=body)["VersionId"]
    encoded = s3_encoded(key)
    assert encoded != key
    bridge = json.loads(s3_event_message(encoded, version)["body"])
    notification = {"Records": [s3_notification(encoded, version)]}
    for body_ in (bridge, notification):
        [upload] = uploads_in(body_)
        result = ingest_upload(upload)
        assert result["status"] == "STARTED", result
    [execution] = executions(state_machine)  # the second message is the same upload: one execution
    media = json.loads(execution["input"])["media"]
    assert (media["key"], media["version_id"], media["detected_format"]) == (key, version, fmt)
    assert media["source"] == f"s3://{BUCKET}/{key}"
    [item] = job_items()
    assert item["key"]["S"] == key and item["status"]["S"] == "RUNNING"


@pytest.mark.parametrize("name, body, fmt", AWKWARD_NAMES[:4], ids=[n for n, _, _ in AWKWARD_NAMES[:4]])
def test_a_deleted_upload_without_list_bucket_403_fails_with_object_not_found(state_machine, name, body, fmt):
    """Without s3:ListBucket S3 answers 403, not 404, for a missing key: a FAILED manifest, never the DLQ."""
    key = f"uploads/{name}"
    calls = answer_head_object_with(403)
    result = ingest([s3_event_message(s3_encoded(key))])
    assert result == {"batchItemFailures": []}  # not redelivered: it will never succeed
    assert len(calls) == 1 and calls[0].endswith(s3_encoded(key).replace("+", "%20"))
    assert executions(state_machine) == []
    [item] = job_items()
    manifest = manifest_of(item["media_id"]["S"])
    assert manifest["status"] == "FAILED" and manifest["source"]["key"] == key
    assert manifest["error"]["code"] == "OBJECT_NOT_FOUND"
    assert manifest["error"]["message"] == (
        f"s3://{BUCKET}/{key} does not exist or cannot be read (S3 answers 403 for a missing key when the caller "
        "may not list the bucket)")
    assert item["status"]["S"] == "FAILED" and item["error_code"]["S"] == "OBJECT_NOT_FOUND"


def test_a_deleted_upload_fails_with_object_not_found(state_machine):
    key = "uploads/gone talk.wav"
    ingest([s3_event_message(s3_encoded(key))])
    [item] = job_items()
    error = manifest_of(item["media_id"]["S"])["error"]
    # The ingest role may not list the bucket, so S3 answers 403 rather than 404 (the strict emulator does too).
    assert error == {"code": "OBJECT_NOT_FOUND",
                     "message": f"s3://{BUCKET}/{key} does not exist or cannot be read (S3 answers 403 for a missing "
                                "key when the caller may not list the bucket)"}


def test_a_version_that_no_longer_exists_fails_with_object_not_found(state_machine):
    s3 = boto3.client("s3")
    key = "uploads/my talk.wav"
    old = s3.put_object(Bucket=BUCKET, Key=key, Body=wav_bytes(0.2))["VersionId"]
    s3.put_object(Bucket=BUCKET, Key=key, Body=wav_bytes(0.3))
    s3.delete_object(Bucket=BUCKET, Key=key, VersionId=old)
    assert ingest([s3_event_message(s3_encoded(key), old)]) == {"batchItemFailures": []}
    assert executions(state_machine) == []  # the newer version is not processed in its place
    [item] = job_items()
    manifest = manifest_of(item["media_id"]["S"])
    assert manifest["error"]["code"] == "OBJECT_NOT_FOUND" and f"(version {old})" in manifest["error"]["message"]


@pytest.mark.parametrize("status", [400, 403])
def test_a_version_id_s3_refuses_is_object_not_found(state_machine, status, expected_denials):
    key = "uploads/a.wav"
    answer_head_object_with(status)
    assert ingest([s3_event_message(key, "3HL4kqtJvjVBH40Nrjfkd")]) == {"batchItemFailures": []}
    [item] = job_items()
    assert manifest_of(item["media_id"]["S"])["error"]["code"] == "OBJECT_NOT_FOUND"
    # After a 400, botocore's S3 region redirector asks HeadBucket where the bucket is; the ingest role may not list
    # the bucket, so AWS refuses that too, and botocore goes on with the original error (as it does here).
    denied = {(d.operation, d.request.action) for d in iam.denials()}
    assert denied == ({("s3:HeadBucket", "s3:ListBucket")} if status == 400 else set())


@pytest.mark.parametrize("status", [503, 500])
def test_throttling_and_server_errors_are_redelivered_by_sqs(state_machine, status):
    key = "uploads/my talk.wav"
    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=wav_bytes(0.2))
    calls = answer_head_object_with(status)
    message = s3_event_message(s3_encoded(key))
    with pytest.raises(BatchProcessingError) as caught:  # every record failed: the whole batch comes back
        ingest([message])
    assert {503: "S3_THROTTLED", 500: "S3_READ_FAILED"}[status] in str(caught.value)
    assert len(calls) > 1  # the SDK retried before giving up
    assert job_items() == [] and executions(state_machine) == []


class StepFunctionsRecorder:
    def __init__(self):
        self.calls = []

    def send_task_success(self, **kwargs):
        self.calls.append(("success", kwargs))

    def send_task_failure(self, **kwargs):
        self.calls.append(("failure", kwargs))

    class exceptions:  # noqa: N801 - mirrors the boto3 client attribute
        class TaskTimedOut(Exception):
            pass

        InvalidToken = TaskDoesNotExist = TaskTimedOut


@pytest.fixture
def recorder(aws):
    from media_pipeline import aws as clients

    recorder = StepFunctionsRecorder()
    clients._clients[("stepfunctions", None)] = recorder
    return recorder


MEDIA_ID = "0123456789abcdef0123456789abcdef"


def media(key: str = "uploads/a.wav") -> dict:
    return {"media_id": MEDIA_ID, "bucket": BUCKET, "key": key, "version_id": None, "etag": "e", "size": 10,
            "media_type": "audio", "detected_format": "wav", "source": f"s3://{BUCKET}/{key}"}


def test_start_transcription_stores_the_token_and_names_the_job(recorder):
    from functions.start_transcription.handler import handler

    boto3.client("s3").put_object(Bucket=BUCKET, Key="uploads/a.wav", Body=wav_bytes(0.5))
    event = {"task_token": "token-1", "media": media(), "part": {"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}, "index": 0}
    assert handler(event, LambdaContext())["started"] is True
    job = boto3.client("transcribe").get_transcription_job(TranscriptionJobName=f"media-{MEDIA_ID}-0")["TranscriptionJob"]
    assert job["Media"]["MediaFileUri"] == f"s3://{BUCKET}/uploads/a.wav"
    token = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"TOKEN#transcribe#media-{MEDIA_ID}-0"}, "sk": {"S": "TOKEN"}})["Item"]
    assert token["task_token"]["S"] == "token-1" and int(token["expires_at"]["N"]) > 0
    # A retry of the state starts no second job; once the job has finished, it resumes the execution.
    transcribe = boto3.client("transcribe")
    while transcribe.get_transcription_job(TranscriptionJobName=f"media-{MEDIA_ID}-0")["TranscriptionJob"]["TranscriptionJobStatus"] != "COMPLETED":
        pass
    event["task_token"] = "token-2"
    second = handler(event, LambdaContext())
    assert second["started"] is False
    assert len(boto3.client("transcribe").list_transcription_jobs()["TranscriptionJobSummaries"]) == 1
    assert recorder.calls and recorder.calls[-1][1]["taskToken"] == "token-2"


JOB = f"media-{MEDIA_ID}-0"


def retried_start(aws, job: dict | None) -> tuple[Stubber, Stubber]:
    """A retry of StartTranscription: Transcribe (under Stubber) answers ConflictException, then `job`."""
    from media_pipeline import aws as clients

    transcribe = boto3.client("transcribe", region_name="us-east-1")
    states = boto3.client("stepfunctions", region_name="us-east-1")
    clients._clients[("transcribe", None)] = transcribe
    clients._clients[("stepfunctions", None)] = states
    transcribe_stub, states_stub = Stubber(transcribe), Stubber(states)
    transcribe_stub.add_client_error("start_transcription_job", service_error_code="ConflictException",
                                     service_message="The requested job name already exists.")
    if job is not None:
        response = {"TranscriptionJob": {"TranscriptionJobName": JOB, **job}}
        transcribe_stub.add_response("get_transcription_job", response, {"TranscriptionJobName": JOB})
    return transcribe_stub, states_stub


def start_retry(token: str = "token-2") -> dict:
    from functions.start_transcription.handler import handler

    event = {"task_token": token, "media": media(), "part": {"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}, "index": 0}
    return handler(event, LambdaContext())


def transcribe_token() -> dict | None:
    key = {"pk": {"S": f"TOKEN#transcribe#{JOB}"}, "sk": {"S": "TOKEN"}}
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key=key).get("Item")


def test_a_retry_finding_a_failed_job_fails_the_task_with_transcribes_reason(aws):
    transcribe_stub, states_stub = retried_start(aws, {"TranscriptionJobStatus": "FAILED",
                                                       "FailureReason": "Unsupported audio format."})
    states_stub.add_response("send_task_failure", {}, {"taskToken": "token-2", "error": "TRANSCRIBE_JOB_FAILED",
                                                       "cause": "Unsupported audio format."})
    with transcribe_stub, states_stub:
        assert start_retry() == {"job_name": JOB, "started": False, "outcome": "failure"}
    states_stub.assert_no_pending_responses()
    assert transcribe_token() is None  # used once


def test_a_retry_finding_a_finished_job_resumes_the_execution_with_its_transcript(aws):
    transcribe_stub, states_stub = retried_start(aws, {"TranscriptionJobStatus": "COMPLETED", "LanguageCode": "en-US"})
    output = {"job_name": JOB, "transcript_key": f"results/{MEDIA_ID}/transcribe-0.json", "language": "en-US",
              "warnings": []}
    states_stub.add_response("send_task_success", {}, {"taskToken": "token-2", "output": json.dumps(output)})
    with transcribe_stub, states_stub:
        assert start_retry()["outcome"] == "success"
    states_stub.assert_no_pending_responses()
    assert transcribe_token() is None


def test_a_retry_finding_a_running_job_waits_for_its_event_with_the_new_token(aws):
    transcribe_stub, states_stub = retried_start(aws, {"TranscriptionJobStatus": "IN_PROGRESS"})
    with transcribe_stub, states_stub:  # no Step Functions call is stubbed: none may be made
        assert start_retry()["outcome"] == "running"
    assert transcribe_token()["task_token"]["S"] == "token-2"


def test_a_retry_whose_task_is_already_over_is_not_an_error(aws):
    transcribe_stub, states_stub = retried_start(aws, {"TranscriptionJobStatus": "COMPLETED", "LanguageCode": "en-US"})
    states_stub.add_client_error("send_task_success", service_error_code="TaskTimedOut", service_message="timed out")
    with transcribe_stub, states_stub:
        assert start_retry()["outcome"] == "stale-token"
    assert transcribe_token() is None


@pytest.mark.parametrize("service, code, expected", [
    ("transcribe", "AccessDeniedException", "TRANSCRIBE_ACCESS_DENIED"),
    ("transcribe", "LimitExceededException", "TRANSCRIBE_THROTTLED"),
    ("stepfunctions", "AccessDeniedException", "STATES_ACCESS_DENIED"),
    ("stepfunctions", "ThrottlingException", "STATES_THROTTLED"),
])
def test_a_retry_that_cannot_read_or_resume_the_job_fails_the_step(aws, service, code, expected):
    """Never swallowed: the state's Retry (throttling) or Catch (a missing grant) must see it."""
    from media_pipeline.errors import PipelineError, ThrottledError

    job = {"TranscriptionJobStatus": "COMPLETED", "LanguageCode": "en-US"} if service == "stepfunctions" else None
    transcribe_stub, states_stub = retried_start(aws, job)
    if service == "transcribe":
        transcribe_stub.add_client_error("get_transcription_job", service_error_code=code, service_message="no")
    else:
        states_stub.add_client_error("send_task_success", service_error_code=code, service_message="no")
    with transcribe_stub, states_stub, pytest.raises(PipelineError) as caught:
        start_retry()
    assert caught.value.code == expected
    assert isinstance(caught.value, ThrottledError) == expected.endswith("_THROTTLED")
    assert transcribe_token()["task_token"]["S"] == "token-2"  # kept for the retry or the job's event


def test_callback_resumes_with_the_transcript_location(recorder):
    from functions.start_transcription.handler import handler as start
    from functions.transcribe_callback.handler import handler as callback

    start({"task_token": "tok", "media": media(), "part": {"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}, "index": 0}, LambdaContext())
    transcribe = boto3.client("transcribe")
    name = f"media-{MEDIA_ID}-0"
    while transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]["TranscriptionJobStatus"] != "COMPLETED":
        pass
    event = {"source": "aws.transcribe", "detail-type": "Transcribe Job State Change",
             "detail": {"TranscriptionJobName": name, "TranscriptionJobStatus": "COMPLETED"}}
    assert callback(event, LambdaContext())["result"] == "success"
    kind, call = recorder.calls[-1]
    assert kind == "success" and call["taskToken"] == "tok"
    assert json.loads(call["output"])["transcript_key"] == f"results/{MEDIA_ID}/transcribe-0.json"
    # The token is used once: a repeated event changes nothing.
    assert callback(event, LambdaContext())["result"] == "no-token"


def test_failed_job_fails_the_task_and_silence_does_not():
    from media_pipeline.transcription import outcome

    name = f"media-{MEDIA_ID}-0"
    assert outcome({"TranscriptionJobName": name, "TranscriptionJobStatus": "FAILED",
                    "FailureReason": "The media format provided does not match the detected media format."}) == (
        "failure", {"error": "TRANSCRIBE_JOB_FAILED", "cause": "The media format provided does not match the detected media format."})
    kind, payload = outcome({"TranscriptionJobName": name, "TranscriptionJobStatus": "FAILED",
                             "FailureReason": "Failed to identify language: the audio has no speech."})
    assert kind == "success" and payload["transcript_key"] is None
    assert payload["warnings"][0]["code"] == "NO_SPEECH_DETECTED"


def test_process_transcript_writes_text_and_captions(aws):
    from functions.process_transcript.handler import handler

    s3 = boto3.client("s3")
    s3.put_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/transcribe-0.json", Body=(DATA / "transcribe-two-sentences.json").read_bytes())
    state = {"media": media(), "steps": {
        "audio": {"parts": [{"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}]},
        "transcription": [{"job_name": "j", "transcript_key": f"results/{MEDIA_ID}/transcribe-0.json", "language": "en-US"}]}}
    result = handler(state, LambdaContext())
    read = lambda key: s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()  # noqa: E731
    assert read(result["text_key"]).strip() == "Welcome to the media pipeline. Uploads become transcripts, captions and summaries."
    assert "00:00:02.900 --> 00:00:06.200\nUploads become transcripts,\ncaptions and summaries.\n" in read(result["vtt_key"])
    assert read(result["srt_key"]).startswith("1\n00:00:00,040 --> 00:00:01,620\nWelcome to the media pipeline.")
    assert json.loads(read(result["segments_key"]))[1]["start"] == 2.9
    assert (result["words"], result["language"], result["warnings"]) == (11, "en-US", [])


def test_no_speech_gives_an_empty_transcript_with_a_warning(aws):
    from functions.process_transcript.handler import handler

    state = {"media": media(), "steps": {
        "audio": {"parts": [{"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}]},
        "transcription": [{"job_name": "j", "transcript_key": None, "language": None,
                           "warnings": [{"code": "NO_SPEECH_DETECTED", "message": "no speech"}]}]}}
    result = handler(state, LambdaContext())
    assert result["words"] == 0 and [w["code"] for w in result["warnings"]] == ["NO_SPEECH_DETECTED",
                                                                               "EMPTY_TRANSCRIPT"]
    assert boto3.client("s3").get_object(Bucket=BUCKET, Key=result["text_key"])["Body"].read() == b""


def transcript_result() -> dict:
    """$.steps.transcript as process_transcript leaves it (media_pipeline.contract.TranscriptResult)."""
    keys = {name: f"results/{MEDIA_ID}/{file}" for name, file in (
        ("text_key", "transcript.txt"), ("segments_key", "segments.json"), ("vtt_key", "captions.vtt"),
        ("srt_key", "captions.srt"))}
    return {**keys, "transcribe_keys": [f"results/{MEDIA_ID}/transcribe-0.json"], "language": "en-US", "words": 5,
            "duration_seconds": 1.6, "warnings": []}


def test_enrich_writes_the_models_answer(aws, fake_bedrock):
    from functions.enrich.handler import handler

    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/transcript.txt", Body=b"Welcome to the media pipeline.")
    result = handler({"media": media(), "steps": {"transcript": transcript_result()}}, LambdaContext())
    stored = json.loads(boto3.client("s3").get_object(Bucket=BUCKET, Key=result["enrichment_key"])["Body"].read())
    assert stored["title"] == "A test title" and stored["model"] == "test.model-v1" and stored["model_calls"] == 1
    assert "Welcome to the media pipeline." in fake_bedrock.calls[0]["messages"][0]["content"][0]["text"]


def test_enrich_skips_empty_text_without_a_model_call(aws, fake_bedrock):
    from functions.enrich.handler import handler

    boto3.client("s3").put_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/transcript.txt", Body=b"")
    result = handler({"media": media(), "steps": {"transcript": transcript_result()}}, LambdaContext())
    assert result["warnings"][0]["code"] == "ENRICHMENT_SKIPPED" and fake_bedrock.calls == []


def test_finalize_writes_a_valid_manifest_keeping_a_failed_enrichment_as_a_warning(aws):
    from functions.finalize.handler import handler
    from functions.process_transcript.handler import handler as process

    s3 = boto3.client("s3")
    boto3.client("dynamodb").put_item(TableName=TABLE, Item={"pk": {"S": f"MEDIA#{MEDIA_ID}"}, "sk": {"S": "JOB"}, "status": {"S": "RUNNING"}})
    s3.put_object(Bucket=BUCKET, Key=f"results/{MEDIA_ID}/transcribe-0.json", Body=(DATA / "transcribe-two-sentences.json").read_bytes())
    steps = {"audio": {"parts": [{"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}]},
             "transcription": [{"job_name": "j", "transcript_key": f"results/{MEDIA_ID}/transcribe-0.json", "language": "en-US"}]}
    steps["transcript"] = process({"media": media(), "steps": steps}, LambdaContext())
    cause = json.dumps({"errorType": "EnrichmentFailed", "errorMessage": json.dumps({"code": "BEDROCK_ACCESS_DENIED", "message": "model access not enabled"})})
    steps["enrichment"] = {"Error": "EnrichmentFailed", "Cause": cause}
    result = handler({"media": media(), "steps": steps}, LambdaContext())
    manifest = manifest_of(MEDIA_ID)
    assert result == {"status": "SUCCEEDED", "manifest_key": f"results/{MEDIA_ID}/manifest.json", "error_code": None}
    assert manifest["transcript"]["text"].startswith("Welcome to the media pipeline.")
    assert manifest["transcript"]["segments"][0] == {"start": 0.04, "end": 1.62, "text": "Welcome to the media pipeline.", "speaker": None}
    assert manifest["warnings"] == [{"code": "ENRICHMENT_FAILED", "message": "BEDROCK_ACCESS_DENIED: model access not enabled"}]
    assert "enrichment" not in manifest and "error" not in manifest
    assert manifest["artifacts"]["captions_vtt"] == f"s3://{BUCKET}/results/{MEDIA_ID}/captions.vtt"
    job = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"MEDIA#{MEDIA_ID}"}, "sk": {"S": "JOB"}})["Item"]
    assert job["status"]["S"] == "SUCCEEDED"


def test_record_failure_keeps_the_reason(aws):
    from functions.finalize.handler import handler

    error = {"Error": "TRANSCRIBE_JOB_FAILED", "Cause": "The media format provided does not match the detected media format."}
    result = handler({"failed": True, "media": media(), "steps": {}, "error": error}, LambdaContext())
    manifest = manifest_of(MEDIA_ID)
    assert result["status"] == "FAILED" and result["error_code"] == "TRANSCRIBE_JOB_FAILED"
    assert manifest["error"] == {"code": "TRANSCRIBE_JOB_FAILED", "message": error["Cause"]}
