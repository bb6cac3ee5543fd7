"""media_pipeline.cost: the price table, counting an execution from its history, and the manifest's cost section."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from media_pipeline import cost, manifest as manifests

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def history(*events: tuple[str, int, float, dict]) -> list[dict]:
    """(type, previous id, seconds after T0, details) -> GetExecutionHistory events, ids from 1."""
    return [{"type": kind, "id": i, "previousEventId": previous, "timestamp": T0 + timedelta(seconds=at), **details}
            for i, (kind, previous, at, details) in enumerate(events, start=1)]


def lambda_scheduled(function: str) -> dict:
    return {"lambdaFunctionScheduledEventDetails": {"resource": f"arn:aws:lambda:us-east-1:1:function:{function}"}}


def task(resource_type: str, resource: str, function: str | None = None) -> dict:
    parameters = json.dumps({"FunctionName": f"arn:aws:lambda:us-east-1:1:function:{function}"} if function else {})
    return {"taskScheduledEventDetails": {"resourceType": resource_type, "resource": resource,
                                          "parameters": parameters}}


# An item: a Lambda task that fails once and is retried, a waitForTaskToken Lambda, a Fargate task, the end.
EVENTS = history(
    ("ExecutionStarted", 0, 0, {}),
    ("TaskStateEntered", 1, 0, {}),                                      # 2 ProbeMedia
    ("LambdaFunctionScheduled", 2, 0, lambda_scheduled("MediaPipeline-ProbeMediaFunctionAB12-x")),
    ("LambdaFunctionStarted", 3, 0.1, {}),
    ("LambdaFunctionFailed", 4, 0.6, {}),                                 # 5
    ("LambdaFunctionScheduled", 5, 1.0, lambda_scheduled("MediaPipeline-ProbeMediaFunctionAB12-x")),  # retry
    ("LambdaFunctionStarted", 6, 1.0, {}),
    ("LambdaFunctionSucceeded", 7, 2.0, {}),                              # 8
    ("TaskStateEntered", 8, 2.0, {}),                                     # 9 ExtractMediaOnFargate
    ("TaskScheduled", 9, 2.0, task("ecs", "runTask.waitForTaskToken")),
    ("TaskStarted", 10, 2.0, {}),
    ("TaskSubmitted", 11, 3.0, {}),                                       # 12
    ("TaskSucceeded", 12, 303.0, {}),                                     # 13: five minutes on Fargate
    ("TaskStateEntered", 13, 303.0, {}),                                  # 14 StartTranscription
    ("TaskScheduled", 14, 303.0, task("lambda", "invoke.waitForTaskToken", "start_transcription")),
    ("TaskStarted", 15, 303.0, {}),
    ("TaskSubmitted", 16, 303.5, {}),                                     # 17: the function returned
    ("TaskSucceeded", 17, 900.0, {}),                                     # the job took ten minutes: not Lambda time
    ("TaskStateEntered", 18, 900.0, {}),                                  # 19 Finalize, still running
    ("LambdaFunctionScheduled", 19, 900.0, lambda_scheduled("finalize")),
    ("LambdaFunctionStarted", 20, 900.0, {}),
)


def test_an_execution_is_counted_from_its_history():
    counted = cost.count_execution(EVENTS, now=T0 + timedelta(seconds=900.25))
    assert (counted.transitions, counted.retries, counted.callbacks) == (4, 1, 1)
    assert counted.fargate_tasks == 1 and counted.fargate_seconds == 300.0
    assert [(run.step, run.memory_mib, run.seconds) for run in counted.lambda_runs] == [
        ("probe_media", 1024, 0.5), ("probe_media", 1024, 1.0), ("start_transcription", 256, 0.5),
        ("finalize", 512, 0.25)]


def test_the_step_of_a_function_by_its_local_or_cdk_name():
    assert cost.step_of_function("arn:aws:lambda:us-east-1:1:function:extract_media") == "extract_media"
    assert cost.step_of_function("MediaPipeline-StartDocumentAnalysisFunction9F-abc") == "start_document_analysis"
    assert cost.step_of_function("MediaPipeline-SomethingElse-abc") is None


def test_every_region_prices_every_unit_and_names_its_source():
    table = cost.price_table()
    assert table["as_of"] and table["currency"] == "USD" and table["sources"]["states"].startswith("https://aws.amazon")
    keys = {service: set(prices) - {"bedrock"} for service, prices in table["regions"]["us-east-1"].items()}
    for region, prices in table["regions"].items():
        assert {service: set(p) for service, p in prices.items() if service != "bedrock"} == \
            {s: k for s, k in keys.items() if s != "bedrock"}, region
        assert "amazon.nova-lite-v1:0" in prices["bedrock"], region


def item(**sections) -> dict:
    base = {"media_id": "0" * 32, "status": "SUCCEEDED", "media_type": "image", "artifacts": {"text": "s3://b/k"}}
    return {**base, **sections}


def test_ai_services_are_priced_from_usage():
    image = item(usage={"textract_pages": 1, "model_calls": 1, "model_input_tokens": 1000, "model_output_tokens": 100},
                 enrichment={"model": "us.amazon.nova-lite-v1:0"}, text={"content": "x" * 250},
                 language={"source": "comprehend"})
    section = cost.cost_section(image, None, region="us-east-1")
    assert section["ai"] == {"textract": 0.0015, "comprehend": 0.0003, "bedrock": pytest.approx(0.000084)}
    assert section["units"]["comprehend_units"] == 3  # 250 characters: the 3-unit minimum


def test_transcribe_bills_at_least_fifteen_seconds_a_job_and_redaction_on_top():
    short = item(media_type="audio", usage={"transcribe_jobs": 1}, transcript={"duration_seconds": 4.0},
                 pii={"source": "transcribe"})
    section = cost.cost_section(short, None)
    assert section["units"]["transcribe_billed_seconds"] == 15
    assert section["ai"]["transcribe"] == pytest.approx(15 / 60 * (0.024 + 0.0024))


def test_orchestration_is_priced_from_the_counted_execution():
    counted = cost.count_execution(EVENTS, now=T0 + timedelta(seconds=900.25))
    section = cost.cost_section(item(media_type="video", usage={"transcribe_jobs": 1, "transcribe_seconds": 600.0}),
                                counted, region="eu-west-1", worker=(2048, 4096))
    assert section["units"]["state_transitions"] == 5  # 4 states entered and one retry
    assert section["orchestration"]["states"] == pytest.approx(5 * 0.000025)
    assert section["orchestration"]["fargate"] == pytest.approx(300 / 3600 * (2 * 0.04048 + 4 * 0.004445))
    assert section["units"]["lambda_requests"] == 6  # 4 runs, ingest and one callback
    assert section["orchestration_share"] == pytest.approx(section["orchestration_total"] / section["ai_total"], abs=1e-4)
    assert section["counted"] == "execution_history" and section["region"] == "eu-west-1"


def test_an_unknown_model_is_counted_not_priced_and_an_unknown_region_is_priced_as_us_east_1():
    section = cost.cost_section(item(usage={"model_calls": 1, "model_input_tokens": 5, "model_output_tokens": 5},
                                     enrichment={"model": "local.extractive-textrank-yake"}), None, region="xx-nowhere-1")
    assert section["ai"] == {"bedrock": 0.0} and section["region"] == "us-east-1"
    assert section["notes"] == ["no price for model local.extractive-textrank-yake: its tokens are counted, not priced"]


def test_a_manifest_with_its_cost_matches_the_schema():
    from media_pipeline.contract import MediaItem

    media = MediaItem(media_id="0" * 32, bucket="b", key="uploads/a.png", version_id=None, etag="e", size=1,
                      media_type="image", source="s3://b/uploads/a.png")
    written = manifests.new_manifest(media, status="SUCCEEDED")
    written["cost"] = cost.cost_section(written, cost.count_execution(EVENTS, now=T0 + timedelta(seconds=901)))
    manifests.validate(written)


# ---- an Express execution: counted from the runs its steps recorded in the state ---------------------------------

def express_state(*, failed: bool = False) -> dict:
    run = lambda function, start, ms: {"function": function, "started_ms": int(start * 1000), "elapsed_ms": ms}  # noqa: E731
    steps = {"document": {"mode": "sync", "lambda_run": run("MediaPipeline-AnalyzeDocumentFunctionAB12-x", 100.0, 1500)}}
    state = {"media": {"media_id": "m", "workflow": "express"}, "steps": steps}
    if failed:
        state["error"] = {"Error": "TextractThrottled", "Cause": "..."}
        return state
    steps.update(document_text={"text_key": "k", "lambda_run": run("collect_document_text", 101.6, 200)},
                 language={"code": "en", "lambda_run": run("identify_language", 101.9, 300)},
                 pii={"disabled": True, "lambda_run": run("redact_pii", 102.3, 50)},
                 enrichment={"Error": "EnrichmentFailed", "Cause": "caught: a warning"})
    return state


def test_an_express_execution_is_billed_per_request_and_duration_not_per_transition():
    count = cost.count_express(express_state(), started=103.0, now=103.4)
    assert [(run.step, run.memory_mib, run.seconds) for run in count.lambda_runs] == [
        ("analyze_document", 2048, 1.5), ("collect_document_text", 1024, 0.2), ("identify_language", 512, 0.3),
        ("redact_pii", 1024, 0.05), ("finalize", 512, 0.4)]
    assert count.express_seconds == pytest.approx(3.4) and count.transitions == 0
    assert count.uncounted_runs == 1  # Enrich failed (caught): its run is not in the state
    section = cost.cost_section({"media_id": "m", "usage": {"textract_pages": 1}}, count)
    _, price = cost.prices_for("us-east-1")
    gb_seconds = 0.0625 * 3.4  # 3.4 s in 100 ms units, at 64 MB
    assert section["units"]["express_gb_seconds"] == pytest.approx(gb_seconds)
    assert section["orchestration"]["states"] == pytest.approx(
        price["states"]["express_request"] + gb_seconds * price["states"]["express_gb_second"], abs=1e-8)
    assert section["units"]["state_transitions"] == 0 and section["units"]["express_requests"] == 1
    assert section["counted"] == "express_steps" and section["workflow"] == "express"
    assert "express: 1 failed step run(s) not counted" in section["estimated"]


def test_express_duration_rounds_up_to_100_ms():
    assert cost.express_gb_seconds(0.31) == pytest.approx(0.0625 * 0.4)
    assert cost.express_gb_seconds(0.3) == pytest.approx(0.0625 * 0.3)


def test_a_failed_express_item_counts_what_ran():
    count = cost.count_express(express_state(failed=True), started=102.0, now=102.2)
    assert [run.step for run in count.lambda_runs] == ["analyze_document", "finalize"]
    assert count.uncounted_runs == 1 and count.express_seconds == pytest.approx(2.2)
