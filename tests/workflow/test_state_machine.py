"""The real statemachines/ ASL on moto's Step Functions engine, handlers in-process, from an S3 upload to the
manifest. Engines here are deterministic stand-ins (a Transcribe-format transcript, a fixed model answer), so
each test asserts exact content; the offline engines are exercised in tests/local.
"""
from __future__ import annotations

import json
import time
from collections import Counter

from media_pipeline.local import moto_gaps
from media_pipeline.local.account import asl_path
from tests.workflow.conftest import TRANSCRIPT
from tests.media_factory import wav_bytes


def transitions(history: list[dict]) -> int:
    return sum(1 for event in history if event["type"].endswith("StateEntered"))


def test_audio_upload_to_manifest(pipeline, engines, capsys):
    upload = pipeline.upload(wav_bytes(0.3), name="welcome talk.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED" and manifest["media_type"] == "audio"
    assert manifest["source"]["key"] == "uploads/welcome talk.wav"
    assert manifest["transcript"]["text"] == TRANSCRIPT
    assert manifest["transcript"]["language"] == "en-US"
    assert [s["text"] for s in manifest["transcript"]["segments"]] == [
        "Welcome to the media pipeline.", "Uploads become transcripts, captions and summaries."]
    assert manifest["enrichment"]["title"] == "Media pipeline welcome"
    assert manifest["enrichment"]["model_calls"] == 1
    assert manifest["warnings"] == []
    assert manifest["usage"]["transcribe_jobs"] == 1 and manifest["usage"]["model_calls"] == 1
    assert manifest["usage"]["transcribe_seconds"] == manifest["usage"]["media_seconds"] > 0
    assert "video" not in manifest
    assert manifest["usage"]["model_input_tokens"] > 0
    s3 = pipeline.client("s3")
    vtt = s3.get_object(Bucket=pipeline.bucket, Key=f"results/{upload.media_id}/captions.vtt")["Body"].read().decode()
    assert "00:00:00.040 --> 00:00:01.620\nWelcome to the media pipeline." in vtt
    assert set(manifest["artifacts"]) >= {"transcript_text", "segments", "captions_vtt", "captions_srt",
                                          "transcribe_json_0", "enrichment", "manifest"}

    history = pipeline.history(upload.media_id)
    entered = [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]
    assert entered == ["RouteByMediaType", "ProbeAudio", "AudioNeedsSplitting", "PrepareAudio", "Transcribe",
                       "StartTranscription",
                       "ProcessTranscript", "IdentifyLanguage", "RedactPii", "Enrich", "Finalize"]
    assert not any(e["type"].startswith("Wait") for e in history)  # the callback resumes it: no polling loop
    assert engines.transcribe_calls == 1
    assert TRANSCRIPT in engines.bedrock_prompts[0]  # the transcript is what the model summarised
    with capsys.disabled():
        print(f"\n[workflow] one audio item: {transitions(history)} state transitions, {len(history)} history events")
    event = pipeline.client("dynamodb").get_item(TableName=pipeline.table, Key={
        "pk": {"S": f"MEDIA#{upload.media_id}"}, "sk": {"S": "JOB"}})["Item"]
    assert event["status"]["S"] == "SUCCEEDED"


def test_the_same_s3_event_three_times_gives_one_execution_and_one_job(pipeline, engines):
    upload = pipeline.upload(wav_bytes(0.4), name="repeated.wav")
    pipeline.wait(upload.media_id, timeout=60)
    sqs = pipeline.client("sqs")
    queue = sqs.get_queue_url(QueueName="media-pipeline-ingest")["QueueUrl"]
    event = {"version": "0", "id": "redelivered", "detail-type": "Object Created", "source": "aws.s3",
             "account": "123456789012", "region": "us-east-1", "time": "2026-01-01T00:00:00Z",
             "resources": [f"arn:aws:s3:::{pipeline.bucket}"],
             "detail": {"bucket": {"name": pipeline.bucket},
                        "object": {"key": upload.key, "version-id": upload.version_id, "etag": upload.etag, "size": 1}}}
    for _ in range(2):  # with the original delivery: three times
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(event))
    moto_gaps.wait_for_background_work(timeout=30)
    sfn = pipeline.client("stepfunctions")
    names = [e["name"] for e in sfn.list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]]
    assert names.count(upload.media_id) == 1
    jobs = pipeline.client("transcribe").list_transcription_jobs(JobNameContains=upload.media_id)
    assert len(jobs["TranscriptionJobSummaries"]) == 1
    assert engines.transcribe_calls == 1


def test_a_failed_transcription_job_ends_failed_with_its_reason(pipeline, engines):
    engines.transcribe_failure = "The media format provided does not match the detected media format."
    upload = pipeline.upload(wav_bytes(0.5), name="broken.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "FAILED"
    assert manifest["error"]["code"] == "TRANSCRIBE_JOB_FAILED"
    assert "does not match the detected media format" in manifest["error"]["message"]
    assert "transcript" not in manifest
    sfn = pipeline.client("stepfunctions")
    deadline = time.monotonic() + 30
    while (execution := sfn.describe_execution(executionArn=pipeline.execution_arn(upload.media_id)))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.1)  # the manifest is written by RecordFailure, one state before the Fail state
    assert execution["status"] == "FAILED" and execution["error"] == "MediaProcessingFailed"
    assert pipeline.job(upload.media_id)["error_code"] == "TRANSCRIBE_JOB_FAILED"


def test_a_failed_enrichment_keeps_the_transcript(pipeline, engines):
    engines.bedrock_reply = "Sorry, I can only answer in prose."
    upload = pipeline.upload(wav_bytes(0.6), name="unlucky.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    assert manifest["transcript"]["text"] == TRANSCRIPT
    assert "enrichment" not in manifest
    [warning] = manifest["warnings"]
    assert warning["code"] == "ENRICHMENT_FAILED" and warning["message"].startswith("ENRICHMENT_INVALID_OUTPUT")
    assert engines.bedrock_calls == 2  # asked once more for JSON, then gave up without failing the item


def test_silence_gives_an_empty_transcript_and_a_warning(pipeline, engines):
    engines.silence = True
    upload = pipeline.upload(wav_bytes(0.7), name="silence.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    assert manifest["transcript"] == {"text": "", "language": "en-US", "duration_seconds": None, "segments": []}
    assert Counter(w["code"] for w in manifest["warnings"]) == Counter(
        {"EMPTY_TRANSCRIPT": 1, "LANGUAGE_NOT_IDENTIFIED": 1, "ENRICHMENT_SKIPPED": 1})
    assert engines.bedrock_calls == 0


def test_the_definition_has_no_polling_loop():
    definition = json.loads(asl_path().read_text())

    def states(container: dict) -> list[dict]:
        found = []
        for state in container["States"].values():
            found.append(state)
            if state["Type"] == "Map":
                found += states(state["ItemProcessor"])
        return found

    every = states(definition)
    assert not [s for s in every if s["Type"] == "Wait"]
    callbacks = [s["Resource"] for s in every if s.get("Resource", "").endswith(".waitForTaskToken")]
    assert len(callbacks) == 3  # Transcribe, Textract, the Fargate worker
    for state in every:
        if state["Type"] in ("Task", "Map") and state is not definition["States"]["RecordFailure"]:
            assert state.get("Catch") or state is definition["States"]["Transcribe"]["ItemProcessor"]["States"]["StartTranscription"]
        if state["Type"] == "Task":
            assert state.get("Retry"), state["Resource"]
