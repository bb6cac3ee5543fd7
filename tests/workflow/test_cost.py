"""The manifest's cost section on the real ASL: the orchestration finalize counts from the item's own execution
history is what the execution did (every state entered, each Lambda the state machine invoked)."""
from __future__ import annotations

import time

from tests.media_factory import wav_bytes


def entered(history: list[dict]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def finished_history(pipeline, media_id: str) -> list[dict]:
    sfn, deadline = pipeline.client("stepfunctions"), time.monotonic() + 30
    while sfn.describe_execution(executionArn=pipeline.execution_arn(media_id))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return pipeline.history(media_id)


def test_an_audio_item_costs_what_its_execution_counted(pipeline, engines):
    upload = pipeline.upload(wav_bytes(0.3), name="costed.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    history = finished_history(pipeline, upload.media_id)
    cost = manifest["cost"]

    assert cost["counted"] == "execution_history"
    assert cost["units"]["state_transitions"] == len(entered(history)) == 11  # with ProbeAudio, AudioNeedsSplitting
    lambda_states = sum(1 for e in history if e["type"] in ("LambdaFunctionScheduled", "TaskScheduled"))
    assert cost["units"]["lambda_requests"] == lambda_states + 2  # ingest, and transcribe_callback once
    assert cost["orchestration"]["states"] == round(11 * 0.000025, 8)
    assert cost["units"]["transcribe_billed_seconds"] == 15  # a short file: Transcribe's 15-second minimum
    assert cost["ai"]["transcribe"] == round(15 / 60 * 0.024, 8)
    assert cost["ai_total"] > 0 and cost["orchestration_share"] == round(cost["orchestration_total"] / cost["ai_total"], 4)


def test_a_failed_item_counts_the_fail_state_after_record_failure(pipeline, engines):
    engines.transcribe_failure = "The media format provided does not match the detected media format."
    upload = pipeline.upload(wav_bytes(0.5), name="costed-broken.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    history = finished_history(pipeline, upload.media_id)
    assert manifest["status"] == "FAILED"
    assert entered(history)[-2:] == ["RecordFailure", "MediaFailed"]
    assert manifest["cost"]["units"]["state_transitions"] == len(entered(history))
