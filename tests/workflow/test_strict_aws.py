"""What a first deployment would hit, on the strict emulator (each role acts with the template's policies, S3
answers 403 for a missing key, keys in S3's events are encoded): retries that find their job finished, names S3
encodes, an object gone before ingest, the callbacks' failure paths."""
from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest

from media_pipeline import jobs
from media_pipeline.errors import TransientError
from media_pipeline.local import iam, moto_gaps
from media_pipeline.local.runtime import load_handler
from media_pipeline.textract import TOKEN_KIND as TEXTRACT_TOKENS
from media_pipeline.transcription import TOKEN_KIND as TRANSCRIBE_TOKENS
from tests.document_factory import image_bytes, scanned_pdf, text_pdf
from tests.media_factory import make_video, wav_bytes
from tests.workflow.conftest import TRANSCRIPT
from tests.waiting import until


@pytest.fixture
def lose_first_response(pipeline):
    """The step runs for real, then its first response is lost (a TransientError after the work was done), once
    the job it started has finished and its notification has gone by: the state's Retry runs the step again."""
    replaced: list[str] = []

    def install(name: str, settled: Callable[[dict[str, Any], dict[str, Any]], bool]) -> list[dict[str, Any]]:
        real, results = load_handler(name), []

        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            result = real(event, context)
            results.append(result)
            if len(results) == 1:
                with iam.acting_as(None):  # the test looks on as the account owner
                    until(lambda: settled(event, result), what=f"{name}'s job to finish and be announced")
                raise TransientError("the response was lost on its way back", code="TEST_LOST_RESPONSE")
            return result

        moto_gaps.install_lambda_runtime({name: handler})
        replaced.append(name)
        return results

    yield install
    moto_gaps.install_lambda_runtime({name: load_handler(name) for name in replaced})


@pytest.fixture
def slow_textract(engines):
    """Textract takes a moment, as it does: the start step's status check sees the job still running, so the
    job's SNS notification is what resumes the execution (a job done within the start step is resumed by it)."""
    def detect(document: bytes) -> list[dict[str, Any]]:
        time.sleep(0.5)
        return engines.textract(document)

    moto_gaps.install_ai_engines(textract=detect)
    return engines


def decisions_of(role: str, action: str) -> list[iam.Decision]:
    return [d for d in iam.decisions() if d.principal.endswith(f"/{role}") and d.request.action == action]


def test_a_retried_transcription_start_resumes_the_execution_from_the_finished_job(pipeline, engines, lose_first_response):
    def settled(event: dict[str, Any], result: dict[str, Any]) -> bool:
        job = pipeline.client("transcribe").get_transcription_job(TranscriptionJobName=result["job_name"])
        return (job["TranscriptionJob"]["TranscriptionJobStatus"] == "COMPLETED"
                and jobs.get_task_token(TRANSCRIBE_TOKENS, result["job_name"]) is None)

    results = lose_first_response("start_transcription", settled)
    upload = pipeline.upload(wav_bytes(0.4), name="retried.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["transcript"]["text"] == TRANSCRIPT
    assert [r["started"] for r in results] == [True, False]  # the retry found the job: no second paid job
    assert results[1]["outcome"] == "success"
    assert engines.transcribe_calls == 1
    [sent] = decisions_of("StartTranscriptionRole", "states:SendTaskSuccess")
    assert sent.allowed and sent.request.resource == pipeline.state_machine_arn
    assert all(d.allowed for d in decisions_of("StartTranscriptionRole", "transcribe:GetTranscriptionJob"))


def test_a_retried_textract_start_resumes_the_execution_from_the_finished_job(pipeline, slow_textract, lose_first_response):
    engines = slow_textract
    engines.documents[2] = {1: ["Retried scan, page one"], 2: ["Retried scan, page two"]}

    def settled(event: dict[str, Any], result: dict[str, Any]) -> bool:
        media_id = event["state"]["media"]["media_id"]
        status = pipeline.client("textract").get_document_text_detection(JobId=result["job_id"])["JobStatus"]
        return status == "SUCCEEDED" and jobs.get_task_token(TEXTRACT_TOKENS, media_id) is None

    results = lose_first_response("start_document_analysis", settled)
    upload = pipeline.upload(scanned_pdf([["Retried scan, page one"], ["Retried scan, page two"]]), name="retried.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert [p["text"] for p in manifest["text"]["pages"]] == ["Retried scan, page one", "Retried scan, page two"]
    assert results[0]["status"] == "IN_PROGRESS" and results[0]["resumed"] is None
    assert results[0]["job_id"] == results[1]["job_id"]  # the same ClientRequestToken gave the same job
    assert results[1]["status"] == "SUCCEEDED" and results[1]["resumed"] == "success"
    assert engines.textract_calls == 1
    [sent] = decisions_of("StartDocumentAnalysisRole", "states:SendTaskSuccess")
    assert sent.allowed
    assert all(d.allowed for d in decisions_of("StartDocumentAnalysisRole", "textract:GetDocumentTextDetection"))


def test_a_failed_textract_job_is_reported_by_its_callback(pipeline, slow_textract):
    upload = pipeline.upload(scanned_pdf([["Page one"], ["Page two"], ["Page three"]]), name="unreadable.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)  # the stand-in knows no 3-page document: the job fails

    assert manifest["status"] == "FAILED"
    assert manifest["error"]["code"] == "TEXTRACT_JOB_FAILED"
    [sent] = decisions_of("TextractCallbackRole", "states:SendTaskFailure")
    assert sent.allowed


@pytest.mark.parametrize("name, body, media_type", [
    ("my talk.wav", lambda tmp: wav_bytes(0.4), "audio"),
    ("c++ notes.pdf", lambda tmp: text_pdf([["Notes on C++ templates"]]), "document"),
    ("résumé (1).png", lambda tmp: image_bytes(("Curriculum vitae",)), "image"),
    ("100% done.mp4", lambda tmp: make_video(tmp / "done.mp4", 1.0).read_bytes(), "video"),
])
def test_names_s3_encodes_in_its_events_go_through(pipeline, engines, tmp_path, name, body, media_type):
    engines.documents[1] = {1: ["Curriculum vitae"]}
    upload = pipeline.upload(body(tmp_path), name=name)
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["media_type"] == media_type
    assert manifest["source"]["key"] == f"uploads/{name}"  # decoded once: the object's real key


def test_an_object_deleted_before_ingest_gets_an_object_not_found_manifest(pipeline, engines):
    upload = pipeline.upload(wav_bytes(0.3), name="short-lived.wav")
    pipeline.wait(upload.media_id, timeout=60)
    s3 = pipeline.client("s3")
    s3.delete_object(Bucket=pipeline.bucket, Key=upload.key, VersionId=upload.version_id)
    # The same announcement again, now for an object that is gone (as when a delete races the event).
    event = {"version": "0", "id": "late", "detail-type": "Object Created", "source": "aws.s3", "account": "123456789012",
             "region": "us-east-1", "time": "2026-01-01T00:00:00Z", "resources": [f"arn:aws:s3:::{pipeline.bucket}"],
             "detail": {"bucket": {"name": pipeline.bucket},
                        "object": {"key": "uploads/gone+for+good.wav", "version-id": upload.version_id,
                                   "etag": upload.etag, "size": 10}}}
    sqs = pipeline.client("sqs")
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="media-pipeline-ingest")["QueueUrl"],
                     MessageBody=json.dumps(event))
    from media_pipeline.ids import media_id_for

    media_id = media_id_for(pipeline.bucket, "uploads/gone for good.wav", upload.version_id)
    manifest = pipeline.wait(media_id, timeout=30)

    assert manifest["status"] == "FAILED" and manifest["error"]["code"] == "OBJECT_NOT_FOUND"
    assert manifest["source"]["key"] == "uploads/gone for good.wav"
    dlq = sqs.get_queue_url(QueueName="media-pipeline-ingest-dlq")["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=0)
    [head] = [d for d in iam.decisions() if d.principal.endswith("/IngestRole") and d.operation == "s3:HeadObject"
              and d.request.resource.endswith("gone for good.wav")]
    assert head.allowed  # allowed to try; S3 then answers 403, as the role may not list the bucket


def test_the_video_worker_reads_the_pinned_version_and_beats_as_its_task_role(pipeline, engines, tmp_path, monkeypatch):
    from media_pipeline.local.account import WORKER_FAMILY

    monkeypatch.setenv("VIDEO_LAMBDA_MAX_SECONDS", "2")  # a 4 s video goes to the Fargate worker
    moto_gaps.install_task_runner({WORKER_FAMILY: lambda env: pipeline._run_worker({**env, "HEARTBEAT_SECONDS": "0.02"})})
    try:
        upload = pipeline.upload(make_video(tmp_path / "long.mp4", 4.0), name="long talk.mp4")
        pipeline.client("s3").put_object(Bucket=pipeline.bucket, Key=upload.key, Body=b"a newer version, not a video")
        manifest = pipeline.wait(upload.media_id, timeout=60)
    finally:
        moto_gaps.install_task_runner({WORKER_FAMILY: pipeline._run_worker})

    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["video"]["route"] == "fargate" and manifest["transcript"]["text"] == TRANSCRIPT
    reads = decisions_of("VideoWorkerTaskRole", "s3:GetObjectVersion")
    assert reads and not decisions_of("VideoWorkerTaskRole", "s3:GetObject")  # every read pinned to the upload
    beats = decisions_of("VideoWorkerTaskRole", "states:SendTaskHeartbeat")
    assert beats and all(d.allowed and d.request.resource == pipeline.state_machine_arn for d in beats)


def test_without_its_lambda_permission_eventbridge_cannot_resume_the_execution(pipeline, engines, expected_denials):
    """A missing AWS::Lambda::Permission: EventBridge may not invoke the Transcribe callback, so nothing resumes
    the waiting execution (in AWS it waits out the state's timeout), and the denial says why."""
    callback = "arn:aws:lambda:us-east-1:123456789012:function:transcribe_callback"
    saved = iam._resource_policies.pop(callback)
    try:
        upload = pipeline.upload(wav_bytes(0.3), name="unheard.wav")
        denied = until(lambda: [d for d in iam.denials() if d.request.resource == callback], what="the denial")
    finally:
        iam._resource_policies[callback] = saved
    assert denied[0].principal == "service/events.amazonaws.com" and denied[0].request.action == "lambda:InvokeFunction"
    assert denied[0].request.context["aws:SourceArn"].endswith(":rule/media-pipeline-transcribe-state")
    assert pipeline.manifest(upload.media_id) is None
    execution = pipeline.client("stepfunctions").describe_execution(executionArn=pipeline.execution_arn(upload.media_id))
    assert execution["status"] == "RUNNING"
    pipeline.client("stepfunctions").stop_execution(executionArn=execution["executionArn"], error="TEST_CLEANUP")
