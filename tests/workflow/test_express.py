"""Images Textract reads synchronously run in the Express workflow (media_pipeline/workflows.py), on the strict
emulator: an Express execution has no history, cannot be described or stopped, and is not deduplicated by name."""
from __future__ import annotations

import datetime as dt
import json

import pytest
from botocore.exceptions import ClientError

from media_pipeline import cost, steps
from media_pipeline.ids import media_id_for
from media_pipeline.local import account, iam, moto_gaps
from media_pipeline.reconcile import UploadVersion, upload_event
from tests.document_factory import decompression_bomb_png, image_bytes, multipage_tiff
from tests.waiting import until
from tests.workflow.test_reconcile import item, reconcile, without_grant

EXPRESS_STEPS = ["AnalyzeDocument", "DocumentNeedsOcr", "CollectDocumentText", "IdentifyLanguage", "RedactPii",
                 "Enrich", "Finalize"]


def entered(pipeline, media_id: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in pipeline.history(media_id) if e["type"].endswith("StateEntered")]


def test_an_image_runs_in_the_express_workflow_and_its_cost_is_express_billing(pipeline, engines):
    engines.documents[1] = {1: ["Invoice 2041", "Total due: 118.40 EUR"]}
    upload = pipeline.upload(image_bytes(("Invoice 2041",)), name="express-invoice.png")
    manifest = pipeline.wait(upload.media_id, timeout=60)

    assert manifest["status"] == "SUCCEEDED" and manifest["media_type"] == "image"
    assert manifest["text"]["content"] == "Invoice 2041\nTotal due: 118.40 EUR"
    assert manifest["media_id"] == upload.media_id == media_id_for(pipeline.bucket, upload.key, upload.version_id)
    assert manifest["language"]["code"] == "en" and engines.textract_calls == 1

    job = pipeline.job(upload.media_id)
    assert job["workflow"] == "express" and job["status"] == "SUCCEEDED"
    assert job["execution_arn"].startswith(
        f"arn:aws:states:{account.REGION}:{account.ACCOUNT}:express:{account.EXPRESS_STATE_MACHINE_NAME}:{upload.media_id}:")
    sfn = pipeline.client("stepfunctions")
    with pytest.raises(ClientError) as refused:  # as in AWS: an Express execution has no history
        sfn.get_execution_history(executionArn=job["execution_arn"])
    assert refused.value.response["Error"]["Code"] == "InvalidArn"
    with pytest.raises(sfn.exceptions.ExecutionDoesNotExist):  # and nothing ran in the Standard workflow
        sfn.describe_execution(executionArn=pipeline.state_machine_arn.replace(":stateMachine:", ":execution:")
                               + f":{upload.media_id}")
    until(lambda: pipeline.execution_status(upload.media_id) == "SUCCEEDED", what="the Express execution's end")
    assert entered(pipeline, upload.media_id) == EXPRESS_STEPS  # what its log group holds

    section = manifest["cost"]
    assert section["counted"] == "express_steps" and section["workflow"] == "express"
    units = section["units"]
    assert units["state_transitions"] == 0 and units["express_requests"] == 1
    assert units["lambda_requests"] == 7  # the six steps the execution invoked, and ingest
    assert 0 < units["express_seconds"] < 60
    assert units["express_gb_seconds"] == pytest.approx(cost.express_gb_seconds(units["express_seconds"]), abs=1e-4)
    _, price = cost.prices_for("us-east-1")
    assert section["orchestration"]["states"] == pytest.approx(
        price["states"]["express_request"] + units["express_gb_seconds"] * price["states"]["express_gb_second"],
        abs=1e-8)
    assert section["orchestration"]["states"] < price["states"]["standard_transition"]  # less than one transition
    # Each step's own run, at its registry memory: finalize's GB-seconds at 512 MB, analyze_document's at 2 GB.
    assert units["lambda_gb_seconds"] > steps.BY_NAME["ingest"].memory_mib / 1024 * cost.NOMINAL_OUTSIDE_SECONDS
    assert any("express" in note for note in section["estimated"])


def test_a_failing_image_gets_a_failed_manifest_with_its_reason(pipeline, engines):
    upload = pipeline.upload(decompression_bomb_png(), name="express-bomb.png")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "FAILED" and manifest["error"]["code"] == "DECOMPRESSION_BOMB"
    assert pipeline.job(upload.media_id)["workflow"] == "express"
    assert pipeline.job(upload.media_id)["error_code"] == "DECOMPRESSION_BOMB"
    until(lambda: pipeline.execution_status(upload.media_id) == "FAILED", what="the Express execution's end")
    assert entered(pipeline, upload.media_id) == ["AnalyzeDocument", "RecordFailure", "MediaFailed"]
    assert manifest["cost"]["counted"] == "express_steps" and manifest["cost"]["units"]["state_transitions"] == 0
    assert "express: 1 failed step run(s) not counted" in manifest["cost"]["estimated"]
    assert engines.textract_calls == 0


def test_a_tiff_stays_in_the_standard_workflow(pipeline, engines):
    engines.documents[1] = {1: ["Page one"], 2: ["Page two"]}  # the stand-in counts PDF pages only
    upload = pipeline.upload(multipage_tiff([["Page one"], ["Page two"]]), name="express-pages.tiff")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["text"]["content"] == "Page one\n\nPage two"
    assert "workflow" not in pipeline.job(upload.media_id) and "workflow" not in manifest["cost"]
    assert manifest["cost"]["counted"] == "execution_history"
    assert "StartDocumentAnalysis" in entered(pipeline, upload.media_id)


def test_a_second_delivery_starts_no_second_express_execution(pipeline, engines):
    engines.documents[1] = {1: ["Delivered twice"]}
    upload = pipeline.upload(image_bytes(("Delivered twice",)), name="express-twice.png")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    first = pipeline.job(upload.media_id)["execution_arn"]
    head = pipeline.client("s3").head_object(Bucket=pipeline.bucket, Key=upload.key)
    again = UploadVersion(bucket=pipeline.bucket, key=upload.key, version_id=upload.version_id, etag=upload.etag,
                          size=head["ContentLength"], last_modified=head["LastModified"])
    sqs = pipeline.client("sqs")
    queue = sqs.get_queue_url(QueueName=account.INGEST_QUEUE)["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(upload_event(again, region=account.REGION)))
    until(lambda: int(sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"][
        "ApproximateNumberOfMessages"]) == 0, what="ingest took the message")
    moto_gaps.wait_for_background_work(timeout=10)
    assert pipeline.job(upload.media_id)["execution_arn"] == first
    assert engines.textract_calls == 1 and pipeline.manifest(upload.media_id) == manifest


def test_reconcile_resends_an_express_item_never_started_and_fails_one_that_ended_without_a_manifest(
        pipeline, engines, expected_denials):
    engines.documents[1] = {1: ["Never started"]}
    with without_grant(pipeline, "ingest", "states:StartExecution"):  # every receive fails; the record is RUNNING
        lost = pipeline.upload(image_bytes(("Never started",)), name="express-lost.png")
        until(lambda: any(d.request.action == "states:StartExecution" for d in iam.denials()), what="a refusal")
        until(lambda: (pipeline.job(lost.media_id) or {}).get("status") == "RUNNING", what="the record")
    assert "execution_arn" not in pipeline.job(lost.media_id)
    found = reconcile("--grace-minutes", "0")
    assert item(found, lost.media_id)["finding"] == "not_started" and item(found, lost.media_id)["action"] == "resent"
    manifest = pipeline.wait(lost.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["text"]["content"] == "Never started"

    engines.documents[1] = {1: ["No manifest"]}
    with without_grant(pipeline, "finalize", "s3:PutObject"):  # Finalize and RecordFailure cannot write it
        ended = pipeline.upload(image_bytes(("No manifest",)), name="express-ended.png")
        until(lambda: pipeline.execution_status(ended.media_id) == "FAILED", what="the execution's failure")
    assert pipeline.manifest(ended.media_id) is None and pipeline.job(ended.media_id)["status"] == "RUNNING"
    running = reconcile("--grace-minutes", "0")  # within Express's 5 minutes (and a margin): still running
    assert item(running, ended.media_id)["finding"] == "running"

    # Six minutes later (the record's start moved back: a test cannot wait for Express's limit).
    started = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=6, seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pipeline.client("dynamodb").update_item(
        TableName=pipeline.table, Key={"pk": {"S": f"MEDIA#{ended.media_id}"}, "sk": {"S": "JOB"}},
        UpdateExpression="SET started_at = :t", ExpressionAttributeValues={":t": {"S": started}})
    report = reconcile("--grace-minutes", "0")
    assert item(report, ended.media_id) == {
        "media_id": ended.media_id, "key": "uploads/express-ended.png", "version_id": ended.version_id,
        "finding": "execution_ended", "action": "recorded_failed", "execution_status": "ENDED",
        "error_code": "EXECUTION_FAILED"}
    manifest = pipeline.manifest(ended.media_id)
    assert manifest["status"] == "FAILED" and manifest["error"]["code"] == "EXECUTION_FAILED"
    assert "ended without writing a manifest" in manifest["error"]["message"] and manifest["media_type"] == "image"
    assert item(reconcile("--grace-minutes", "0"), ended.media_id) is None  # finished now
