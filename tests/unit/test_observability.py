"""The item metrics (media_pipeline.observability.record_item): EMF with low-cardinality dimensions only."""
from __future__ import annotations

import json


def emitted(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]


def test_a_failed_item_emits_its_status_reason_warnings_and_cost(monkeypatch, capsys):
    from media_pipeline.observability import record_item

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    record_item({"media_id": "0" * 32, "media_type": "image", "status": "FAILED",
                 "error": {"code": "TEXTRACT_THROTTLED", "message": "slow down"},
                 "warnings": [{"code": "ENRICHMENT_FAILED", "message": "a"}, {"code": "ENRICHMENT_FAILED", "message": "b"}],
                 "cost": {"total": 0.0021, "ai_total": 0.0018, "orchestration_total": 0.0003}})
    found = {(m["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
              tuple(m["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0])): m for m in emitted(capsys)}
    assert set(found) == {("Items", ("service", "media_type", "status")), ("ItemsFinished", ("service", "status")),
                          ("ItemFailures", ("service", "reason_code")), ("ItemWarnings", ("service", "warning_code")),
                          ("ItemCost", ("service", "media_type")), ("AiCost", ("service", "media_type")),
                          ("OrchestrationCost", ("service", "media_type"))}
    assert found[("ItemFailures", ("service", "reason_code"))]["reason_code"] == "TEXTRACT_THROTTLED"
    assert found[("ItemWarnings", ("service", "warning_code"))]["ItemWarnings"] == [1.0]  # once per item, per code
    assert found[("ItemCost", ("service", "media_type"))]["ItemCost"] == [0.0021]
    assert all(m["service"] == "media-pipeline" and "media_id" not in m for m in found.values())


def test_metrics_disabled_emits_nothing(monkeypatch, capsys):
    from media_pipeline.observability import record_item

    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    record_item({"media_type": "audio", "status": "SUCCEEDED", "warnings": []})
    assert emitted(capsys) == []
