"""Every upload ends in a manifest: reconcile (functions/reconcile, invoked as the CLI and the schedule invoke it)
and the ingest DLQ's redrive with `media-pipeline redrive`, on the pipeline's own emulated account."""
from __future__ import annotations

import contextlib
import io
import json
import threading
from typing import Any, Iterator

import pytest

from media_pipeline import cli
from media_pipeline.local import account, iam, moto_gaps
from media_pipeline.local.runtime import LocalPipeline
from tests.media_factory import wav_bytes
from tests.workflow.conftest import TRANSCRIPT
from tests.upload_events import upload_rule_disabled
from tests.waiting import until


@pytest.fixture(scope="module")
def pipeline():
    """A visibility timeout of one second, so a message that fails five receives reaches the DLQ within a test."""
    with LocalPipeline(mode="mock", engines=False, ingest_visibility_timeout=1) as running:
        yield running


def run_cli(*argv: str) -> tuple[int, str]:
    """The `media-pipeline` command in this process (the emulator is in-process: mock mode)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main(list(argv))
    return status, out.getvalue()


def reconcile(*flags: str) -> dict[str, Any]:
    """`media-pipeline reconcile --local --json`: the emulated account's reconcile function, as its role."""
    status, out = run_cli("reconcile", "--local", "--json", *flags)
    assert status == 0, out
    return json.loads(out)


def item(report: dict[str, Any], media_id: str) -> dict[str, Any] | None:
    return next((found for found in report["items"] if found["media_id"] == media_id), None)


def executions_of(pipeline: LocalPipeline, media_id: str) -> list[dict[str, Any]]:
    listed = pipeline.client("stepfunctions").list_executions(stateMachineArn=pipeline.state_machine_arn)["executions"]
    return [e for e in listed if e["name"].startswith(media_id)]


def ended_executions(pipeline: LocalPipeline, media_id: str) -> list[str]:
    """The item's executions' statuses once none is running (finalize writes the manifest just before the end)."""
    return until(lambda: (found := [e["status"] for e in executions_of(pipeline, media_id)])
                 and "RUNNING" not in found and found, timeout=10, what="the execution's end")


@contextlib.contextmanager
def without_grant(pipeline: LocalPipeline, function: str, action: str) -> Iterator[None]:
    """A fault: the function's role loses one action (as if a deployment dropped the grant), then gets it back."""
    principal = iam.principal_for(pipeline.binding.arn(pipeline.snapshot["functions"][function]["role"]))
    saved = principal.statements
    principal.statements = [{**s, "Action": [a for a in s["Action"] if a != action]} for s in saved if "Action" in s
                            and [a for a in s["Action"] if a != action]]
    try:
        yield
    finally:
        principal.statements = saved


def test_a_lost_upload_event_is_sent_through_ingest_again(pipeline, engines):
    with upload_rule_disabled(pipeline):
        upload = pipeline.upload(wav_bytes(0.3), name="lost-event.wav")
        moto_gaps.wait_for_background_work(timeout=5)
    assert pipeline.job(upload.media_id) is None  # nothing saw it

    report = reconcile("--grace-minutes", "0")
    assert item(report, upload.media_id) == {"media_id": upload.media_id, "key": "uploads/lost-event.wav",
                                             "version_id": upload.version_id, "finding": "lost", "action": "resent"}
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["transcript"]["text"] == TRANSCRIPT
    assert manifest["source"]["version_id"] == upload.version_id
    assert ended_executions(pipeline, upload.media_id) == ["SUCCEEDED"]
    assert engines.transcribe_calls == 1

    again = reconcile("--grace-minutes", "0")  # idempotent: a finished item is left alone
    assert item(again, upload.media_id) is None and again["counts"].get("finished", 0) >= 1
    assert pipeline.manifest(upload.media_id) == manifest


def test_a_stopped_execution_gets_a_failed_manifest_and_running_items_are_left_alone(pipeline, engines):
    release = threading.Event()
    transcribe = engines.transcribe

    def slow_transcribe(audio: bytes, language: str | None) -> dict[str, Any]:
        release.wait(30)  # the execution waits in its Transcribe step meanwhile
        return transcribe(audio, language)

    moto_gaps.install_ai_engines(transcribe=slow_transcribe)
    try:
        upload = pipeline.upload(wav_bytes(0.3), name="stopped.wav")
        sfn = pipeline.client("stepfunctions")
        arn = pipeline.execution_arn(upload.media_id)
        until(lambda: pipeline.job(upload.media_id) and engines.transcribe_calls == 0
              and any(e["type"] == "TaskSubmitted" for e in pipeline.history(upload.media_id)), what="the job")

        running = reconcile("--grace-minutes", "0")
        assert item(running, upload.media_id) == {"media_id": upload.media_id, "key": "uploads/stopped.wav",
                                                  "version_id": upload.version_id, "finding": "running",
                                                  "execution_status": "RUNNING"}
        assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"

        sfn.stop_execution(executionArn=arn, error="OperatorStopped", cause="stopped to test reconcile")
        until(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED", timeout=10, what="ABORTED")
        assert pipeline.manifest(upload.media_id) is None  # StopExecution runs no Catch: no manifest
        dry = reconcile("--grace-minutes", "0", "--dry-run")
        assert item(dry, upload.media_id)["action"] == "recorded_failed" and dry["dry_run"] is True
        assert pipeline.manifest(upload.media_id) is None and pipeline.job(upload.media_id)["status"] == "RUNNING"

        report = reconcile("--grace-minutes", "0")
        assert item(report, upload.media_id) == {
            "media_id": upload.media_id, "key": "uploads/stopped.wav", "version_id": upload.version_id,
            "finding": "execution_ended", "action": "recorded_failed", "execution_status": "ABORTED",
            "error_code": "EXECUTION_ABORTED"}
    finally:
        release.set()
    manifest = pipeline.manifest(upload.media_id)
    assert manifest["status"] == "FAILED" and manifest["error"]["code"] == "EXECUTION_ABORTED"
    assert manifest["error"]["message"].startswith(f"the execution {arn} ended ABORTED without writing a manifest")
    assert manifest["media_type"] == "audio" and manifest["source"]["key"] == "uploads/stopped.wav"
    assert pipeline.job(upload.media_id)["error_code"] == "EXECUTION_ABORTED"
    assert [e["status"] for e in executions_of(pipeline, upload.media_id)] == ["ABORTED"]  # not run again

    moto_gaps.wait_for_background_work(timeout=10)  # the late Transcribe job finds no execution to resume
    again = reconcile("--grace-minutes", "0")
    assert item(again, upload.media_id) is None and pipeline.manifest(upload.media_id) == manifest


def test_dry_run_changes_nothing_and_young_uploads_wait_for_the_grace_period(pipeline, engines):
    with upload_rule_disabled(pipeline):
        upload = pipeline.upload(wav_bytes(0.3), name="dry-run.wav")
        moto_gaps.wait_for_background_work(timeout=5)

    young = reconcile()  # the deployment's grace period (15 minutes): a new upload is left to the normal path
    assert item(young, upload.media_id)["finding"] == "too_recent" and "action" not in item(young, upload.media_id)

    dry = reconcile("--grace-minutes", "0", "--dry-run")
    assert item(dry, upload.media_id)["action"] == "resent" and dry["dry_run"] is True
    moto_gaps.wait_for_background_work(timeout=5)
    assert pipeline.job(upload.media_id) is None and pipeline.manifest(upload.media_id) is None
    sqs = pipeline.client("sqs")
    queue = sqs.get_queue_url(QueueName=account.INGEST_QUEUE)["QueueUrl"]
    depth = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages",
                                                                      "ApproximateNumberOfMessagesNotVisible"])
    assert set(depth["Attributes"].values()) == {"0"}
    assert executions_of(pipeline, upload.media_id) == []

    reconcile("--grace-minutes", "0")
    assert pipeline.wait(upload.media_id, timeout=60)["status"] == "SUCCEEDED"


def test_a_message_driven_into_the_dlq_is_redriven_and_processed_once(pipeline, engines, expected_denials):
    """Ingest fails five receives (its role lost states:StartExecution), the message lands in the DLQ; once the
    grant is back, `media-pipeline redrive` moves it back and the upload is processed exactly once."""
    sqs = pipeline.client("sqs")
    dlq = sqs.get_queue_url(QueueName=account.INGEST_DLQ)["QueueUrl"]
    with without_grant(pipeline, "ingest", "states:StartExecution"):
        upload = pipeline.upload(wav_bytes(0.3), name="redriven.wav")
        until(lambda: int(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
                          ["Attributes"]["ApproximateNumberOfMessages"]) == 1, what="the message in the DLQ")
    denied = [d for d in iam.denials() if d.request.action == "states:StartExecution"]
    assert len(denied) == 5  # maxReceiveCount: one StartExecution per receive
    assert pipeline.job(upload.media_id)["status"] == "RUNNING"  # recorded on the first receive
    assert executions_of(pipeline, upload.media_id) == []
    found = reconcile("--grace-minutes", "0", "--dry-run")  # reconcile sees it too
    assert item(found, upload.media_id)["finding"] == "not_started"

    status, out = run_cli("redrive", "--local", "--json")
    assert status == 0, out
    redriven = json.loads(out)
    assert (redriven["waiting"], redriven["moved"], redriven["status"]) == (1, 1, "COMPLETED")

    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["transcript"]["text"] == TRANSCRIPT
    assert ended_executions(pipeline, upload.media_id) == ["SUCCEEDED"]
    assert engines.transcribe_calls == 1  # one Transcribe job
    moto_gaps.wait_for_background_work(timeout=5)
    depth = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert depth["Attributes"]["ApproximateNumberOfMessages"] == "0"
    assert len([d for d in iam.denials() if d.request.action == "states:StartExecution"]) == 5  # none after
