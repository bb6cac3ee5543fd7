"""The limits AWS enforces, on the pipeline's own account: a Lambda timeout, Step Functions' 256 KB, the SQS
retries that end in the dead-letter queue, Lambda's 6 MB, and the encoded key in S3's event."""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from media_pipeline.local import moto_gaps
from media_pipeline.local.runtime import LocalPipeline, load_handler
from media_pipeline.local.account import function_arn
from tests.media_factory import wav_bytes
from tests.workflow.conftest import TRANSCRIPT


@pytest.fixture(scope="module")
def pipeline():
    """A visibility timeout of one second, so a failed message comes back within the test."""
    with LocalPipeline(mode="mock", engines=False, ingest_visibility_timeout=1) as running:
        yield running


@pytest.fixture
def replace_handler(pipeline):
    """Swap a function's handler (and timeout) for one test; the deployed ones come back afterwards."""
    lam = pipeline.client("lambda")
    replaced: dict[str, int] = {}

    def replace(name: str, handler: Callable[[dict[str, Any], Any], Any], timeout: int | None = None) -> None:
        replaced.setdefault(name, lam.get_function_configuration(FunctionName=name)["Timeout"])
        if timeout is not None:
            lam.update_function_configuration(FunctionName=name, Timeout=timeout)
        moto_gaps.install_lambda_runtime({name: handler})

    yield replace
    for name, timeout in replaced.items():
        lam.update_function_configuration(FunctionName=name, Timeout=timeout)
        moto_gaps.install_lambda_runtime({name: load_handler(name)})


def finished(pipeline, media_id: str, timeout: float = 60) -> dict[str, Any]:
    sfn = pipeline.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while True:
        try:
            execution = sfn.describe_execution(executionArn=pipeline.execution_arn(media_id))
            if execution["status"] != "RUNNING":
                return execution
        except sfn.exceptions.ExecutionDoesNotExist:
            pass
        assert time.monotonic() < deadline, f"{media_id} still running"
        time.sleep(0.1)


def failures(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [details for event in history for key, details in event.items()
            if key in ("lambdaFunctionFailedEventDetails", "taskFailedEventDetails")]


def test_a_handler_that_sleeps_past_its_timeout_fails_like_a_lambda_timeout(pipeline, engines, replace_handler):
    replace_handler("enrich", lambda event, context: time.sleep(1.5) or {"title": "too late"}, timeout=1)
    upload = pipeline.upload(wav_bytes(0.3), name="slow enrichment.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED" and manifest["transcript"]["text"] == TRANSCRIPT
    assert "enrichment" not in manifest  # Enrich's Catch (States.ALL) took the timeout as a warning
    [warning] = [w for w in manifest["warnings"] if w["code"] == "ENRICHMENT_FAILED"]
    assert warning["message"].endswith(" Error: Task timed out after 1.00 seconds")
    [failed] = failures(pipeline.history(upload.media_id))
    assert failed["error"] == "Sandbox.Timedout"
    cause = json.loads(failed["cause"])
    assert cause["errorType"] == "Sandbox.Timedout"
    assert cause["errorMessage"].startswith("RequestId: ")
    assert cause["errorMessage"].endswith(" Error: Task timed out after 1.00 seconds")


def test_a_state_output_over_256_kb_fails_with_data_limit_exceeded(pipeline, engines, replace_handler):
    """States.ALL does not catch States.DataLimitExceeded (the emulator, like AWS): every Catch of the ASL names it
    first, so the item still gets its FAILED manifest instead of being lost with the execution."""
    process_transcript = load_handler("process_transcript")
    replace_handler("process_transcript", lambda event, context: {**process_transcript(event, context),
                                                                  "padding": "x" * 300_000})
    upload = pipeline.upload(wav_bytes(0.4), name="oversized state.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "FAILED"
    assert manifest["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert manifest["error"]["message"] == (f"The state/task '{function_arn('process_transcript')}' returned a result "
                                            "with a size exceeding the maximum number of bytes service limit.")
    history = pipeline.history(upload.media_id)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered[entered.index("ProcessTranscript") + 1] == "RecordFailure"


def test_every_catch_names_data_limit_exceeded_before_states_all():
    import json

    from media_pipeline.local.account import asl_path

    def catches(states: dict) -> list[tuple[str, list]]:
        found = []
        for name, state in states.items():
            if state.get("Catch"):
                found.append((name, [c["ErrorEquals"] for c in state["Catch"]]))
            for sub in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
                found += catches(sub["States"]) if sub else []
        return found

    for name, errors in catches(json.loads(asl_path().read_text())["States"]):
        assert errors[0] == ["States.DataLimitExceeded"] and ["States.ALL"] in errors, name


def test_a_message_that_fails_five_receives_goes_to_the_dlq(pipeline, engines, replace_handler):
    ingest = load_handler("ingest")
    receives: list[str] = []

    def recording_ingest(event: dict[str, Any], context: Any) -> Any:
        receives.extend(r["attributes"]["ApproximateReceiveCount"] for r in event["Records"]
                        if r["body"] == body)
        return ingest(event, context)

    replace_handler("ingest", recording_ingest)
    sqs = pipeline.client("sqs")
    queue = sqs.get_queue_url(QueueName="media-pipeline-ingest")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="media-pipeline-ingest-dlq")["QueueUrl"]
    body = '{"detail-type": "Object Created", "detail": "not an S3 event"}'
    sqs.send_message(QueueUrl=queue, MessageBody=body)

    deadline = time.monotonic() + 20
    while not (dead := sqs.receive_message(QueueUrl=dlq).get("Messages")):
        assert time.monotonic() < deadline, f"not in the DLQ after receives {receives}"
        time.sleep(0.2)
    assert [m["Body"] for m in dead] == [body]
    assert receives == ["1", "2", "3", "4", "5"]  # maxReceiveCount 5, one visibility timeout apart
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages",
                                                                          "ApproximateNumberOfMessagesNotVisible"])
    assert attributes["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_an_invoke_over_6_mb_is_refused_and_a_response_over_6_mb_fails(pipeline, engines, replace_handler):
    lam = pipeline.client("lambda")
    with pytest.raises(ClientError) as refused:
        lam.invoke(FunctionName="ingest", Payload=json.dumps({"Records": [], "padding": "x" * 6_291_456}))
    assert refused.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413

    replace_handler("probe_media", lambda event, context: {"frames": "x" * 6_300_000})
    response = lam.invoke(FunctionName="probe_media", Payload="{}")
    assert response["FunctionError"] == "Unhandled"
    assert json.loads(response["Payload"].read())["errorType"] == "Function.ResponseSizeTooLarge"


def test_object_keys_in_the_upload_event_are_url_encoded(pipeline, engines, replace_handler):
    ingest = load_handler("ingest")
    keys: list[str] = []

    def recording_ingest(event: dict[str, Any], context: Any) -> Any:
        keys.extend(json.loads(r["body"])["detail"]["object"]["key"] for r in event["Records"])
        return ingest(event, context)

    replace_handler("ingest", recording_ingest)
    upload = pipeline.upload(wav_bytes(0.5), name="café + notes (1).wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert keys == ["uploads/caf%C3%A9+%2B+notes+%281%29.wav"]  # as S3 encodes keys in its events
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["source"]["key"] == "uploads/café + notes (1).wav"
