"""The local runtime: same state machine file and states as the deployment, the event path end to end (with
stand-in engines, so these run fast), the Fargate route, and the CLI against a "deployed" stack on moto."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from media_pipeline import steps
from media_pipeline.local import account, moto_gaps, runtime
from tests.media_factory import wav_bytes
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]




def fake_transcribe(audio: bytes, language: str | None) -> dict[str, Any]:
    words = "the quick brown fox jumps over the lazy dog".split()
    items = [{"type": "pronunciation", "start_time": f"{i * 0.3:.3f}", "end_time": f"{i * 0.3 + 0.25:.3f}",
              "alternatives": [{"confidence": "0.99", "content": w}]} for i, w in enumerate(words)]
    items.append({"type": "punctuation", "alternatives": [{"confidence": "0.0", "content": "."}]})
    return {"results": {"transcripts": [{"transcript": "The quick brown fox jumps over the lazy dog."}],
                        "items": items, "language_code": "en-US"}}


@pytest.fixture(scope="module")
def pipeline() -> Any:
    """One emulated account for the module (building it takes a few seconds); items do not interfere."""
    from media_pipeline.local.engines import extractive

    with runtime.LocalPipeline(mode="mock", engines=False) as local:
        moto_gaps.install_ai_engines(transcribe=fake_transcribe, bedrock=extractive.converse,
                                     textract=lambda document: [])
        yield local


# ---- the same definitions as the deployment -------------------------------------------------------------------------

def all_states(definition: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name, state in definition["States"].items():
        found[name] = state
        for branch in [state.get("ItemProcessor") or state.get("Iterator")] + list(state.get("Branches") or []):
            if branch:
                found.update(all_states(branch))
    return found


def test_every_substitution_in_the_asl_file_is_defined_locally() -> None:
    text = account.asl_path().read_text()
    assert account.placeholders(text) <= set(account.SUBSTITUTIONS)
    resolved = account.resolve_definition(text, {name: "x" for name in account.SUBSTITUTIONS})
    assert "${" not in resolved


def test_the_deployed_local_state_machine_is_the_asl_file(pipeline: runtime.LocalPipeline) -> None:
    deployed = json.loads(pipeline.client("stepfunctions").describe_state_machine(
        stateMachineArn=pipeline.state_machine_arn)["definition"])
    source = json.loads(account.asl_path().read_text())
    assert set(all_states(deployed)) == set(all_states(source))
    expected = json.loads(account.resolve_definition(account.asl_path().read_text(), pipeline.substitutions))
    assert deployed == expected  # nothing but the ${...} values differs
    for name, state in all_states(deployed).items():
        resource = state.get("Resource", "") + json.dumps(state.get("Parameters", {}))
        assert "${" not in resource, name


def test_functions_are_the_checkout_handlers(pipeline: runtime.LocalPipeline) -> None:
    names = {f["FunctionName"] for f in pipeline.client("lambda").list_functions()["Functions"]}
    folders = {p.parent.name for p in (ROOT / "functions").glob("*/handler.py")}
    assert folders - set(steps.OTHER_FUNCTIONS) <= names == set(account.FUNCTIONS)  # the web API runs behind serve


def test_a_callback_that_keeps_failing_is_retried_then_waits_in_its_dead_letter_queue(
        pipeline: runtime.LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """As deployed: Lambda retries the Transcribe callback's asynchronous invocation twice, then sends the
    invocation record to the callback's dead-letter queue (its role may send there)."""
    from media_pipeline.local import quotas

    monkeypatch.setattr(moto_gaps, "ASYNC_RETRY_DELAYS", (0.05, 0.1))  # Lambda's are about 1 and 2 minutes
    monkeypatch.setitem(quotas._capacity.faults.rates, "dynamodb", (1.0, "5xx"))  # the table fails every call
    event = {"source": "aws.transcribe", "detail-type": "Transcribe Job State Change",
             "detail": {"TranscriptionJobName": "media-no-such-job-0", "TranscriptionJobStatus": "COMPLETED"}}
    config = pipeline.client("lambda").get_function_event_invoke_config(FunctionName="transcribe_callback")
    queue_arn = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert queue_arn.endswith(":AiServicesTranscribeCallbackDeadLetterQueue") and config["MaximumRetryAttempts"] == 2
    pipeline.client("lambda").invoke(FunctionName="transcribe_callback", InvocationType="Event",
                                     Payload=json.dumps(event))
    sqs = pipeline.client("sqs")
    queue = sqs.get_queue_url(QueueName="AiServicesTranscribeCallbackDeadLetterQueue")["QueueUrl"]
    messages = until(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"), timeout=60)
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestPayload"] == event
    assert "InternalServerError" in record["responsePayload"]["errorMessage"], record["responsePayload"]


def test_an_unknown_substitution_is_an_error() -> None:
    with pytest.raises(KeyError, match="NewThingArn"):
        account.resolve_definition('{"Resource": "${NewThingArn}"}', account.SUBSTITUTIONS)


# ---- uploads through the same event path ---------------------------------------------------------------------------

def test_audio_upload_runs_the_whole_audio_path(pipeline: runtime.LocalPipeline) -> None:
    progress: list[runtime.Progress] = []
    upload = pipeline.upload(wav_bytes(1.0, tone_hz=250), name="tone.wav", on_progress=progress.append)
    manifest = pipeline.wait(upload.media_id, timeout=60, on_progress=progress.append)
    assert manifest["status"] == "SUCCEEDED", manifest
    assert manifest["media_type"] == "audio"
    assert manifest["transcript"]["text"] == "The quick brown fox jumps over the lazy dog."
    assert manifest["enrichment"]["model"] == "local.extractive-textrank-yake"
    entered = [p.state for p in progress if p.kind == "entered"]
    assert entered[:5] == ["RouteByMediaType", "ProbeAudio", "AudioNeedsSplitting", "PrepareAudio", "Transcribe"]
    assert "Finalize" in entered
    assert progress[0].kind == "uploaded" and progress[-1].kind == "finished"
    job = pipeline.job(upload.media_id)
    assert job["status"] == "SUCCEEDED" and job["manifest_key"].endswith("/manifest.json")


def test_rejected_uploads_get_a_failed_manifest_at_once(pipeline: runtime.LocalPipeline) -> None:
    for body, code in ((b"", "EMPTY_OBJECT"), (b"PK\x03\x04 not really media", "UNSUPPORTED_MEDIA_TYPE")):
        manifest = pipeline.wait(pipeline.upload(body, name="bad.mp4").media_id, timeout=30)
        assert manifest["status"] == "FAILED" and manifest["error"]["code"] == code


def test_the_same_upload_delivered_twice_is_processed_once(pipeline: runtime.LocalPipeline) -> None:
    upload = pipeline.upload(wav_bytes(0.5, tone_hz=250), name="twice.wav")
    pipeline.wait(upload.media_id, timeout=60)
    queue = pipeline.client("sqs").get_queue_url(QueueName="media-pipeline-ingest")["QueueUrl"]
    event = {"version": "0", "source": "aws.s3", "detail-type": "Object Created", "detail": {
        "bucket": {"name": upload.bucket}, "object": {"key": upload.key, "version-id": upload.version_id}}}
    pipeline.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    executions = pipeline.client("stepfunctions").list_executions(stateMachineArn=pipeline.state_machine_arn)
    assert [e["name"] for e in executions["executions"]].count(upload.media_id) == 1


# ---- the CLI against a deployed stack (here: the local pipeline, found through CloudFormation outputs) ------------

def test_cli_stack_commands(pipeline: runtime.LocalPipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from media_pipeline import cli

    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}, "Outputs": {
        "MediaBucketName": {"Value": pipeline.bucket}, "JobsTableName": {"Value": pipeline.table},
        "UploadPrefix": {"Value": "uploads/"}, "ResultsPrefix": {"Value": "results/"}}}
    pipeline.client("cloudformation").create_stack(StackName="media", TemplateBody=json.dumps(template))
    audio = tmp_path / "clip.wav"
    audio.write_bytes(wav_bytes(0.5, tone_hz=250))
    assert cli.main(["process", str(audio), "--stack", "media", "--json", "--out", str(tmp_path / "out")]) == 0
    manifests = json.loads(capsys.readouterr().out)
    assert len(manifests) == 1 and manifests[0]["status"] == "SUCCEEDED"
    assert manifests[0]["source"]["uri"] == str(audio)
    saved = json.loads((tmp_path / "out" / "clip.wav" / "manifest.json").read_text())
    assert saved["source"]["uri"] == str(audio) and saved["artifacts"]["transcript_text"] == "transcript.txt"
    assert re.fullmatch(r"uploads/[0-9a-f]{16}/clip\.wav", manifests[0]["source"]["key"])  # content-hash upload
    media_id = manifests[0]["media_id"]

    assert cli.main(["status", media_id, "--stack", "media", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["job"]["status"] == "SUCCEEDED" and report["manifest"]["media_id"] == media_id
    assert cli.main(["results", media_id, "--stack", "media", "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / media_id / "transcript.txt").read_text().startswith("The quick brown fox")
    assert cli.main(["status", "0" * 32, "--stack", "media"]) == 1
