"""The dashboard and the alarms (infra/operations.py): widgets and metrics present, alarm thresholds as documented."""
from __future__ import annotations

import json

import pytest


def dashboard_body(synth) -> dict:
    _, dashboard = synth.one("AWS::CloudWatch::Dashboard")
    parts = dashboard["Properties"]["DashboardBody"]["Fn::Join"][1]
    text = "".join(part if isinstance(part, str) else "<token>" for part in parts)
    return json.loads(text.replace('"<token>"', '"TOKEN"').replace("<token>", "TOKEN"))


def widgets(synth) -> dict[str, dict]:
    return {w["properties"].get("title", w["type"]): w for w in dashboard_body(synth)["widgets"]}


def alarm(synth, name: str) -> dict:
    logical_id = synth.logical_id(synth.stack.operations.alarms[name])
    return synth.json["Resources"][logical_id]["Properties"]


def test_the_dashboard_shows_items_failures_latency_throttles_dead_letters_and_cost(synth):
    found = widgets(synth)
    assert {"Items by status", "Items by media type and status", "Failures by reason code", "Step latency p50 (ms)",
            "Step latency p95 (ms)", "Item time in the state machine p50 / p95 (ms)", "AI-service throttles",
            "Dead-letter queue depth", "Cost per hour (USD, list prices)", "Alarms"} <= set(found)
    text = json.dumps(dashboard_body(synth))
    assert 'SEARCH(\'{MediaPipeline,service,media_type,status} MetricName=\\"Items\\"\', \'Sum\', 900)' in text
    assert 'SEARCH(\'{MediaPipeline,service,reason_code} MetricName=\\"ItemFailures\\"\', \'Sum\', 900)' in text
    assert 'SEARCH(\'{MediaPipeline,service,media_type} MetricName=\\"ItemCost\\"\', \'Sum\', 3600)' in text
    times = found["Item time in the state machine p50 / p95 (ms)"]["properties"]["metrics"]
    assert [m[-1]["label"] for m in times] == ["p50", "p95", "images (Express) p50", "images (Express) p95"]
    p95 = found["Step latency p95 (ms)"]["properties"]["metrics"]
    assert len(p95) == 12 and all(m[-1]["stat"] == "p95" and m[1] == "Duration" for m in p95)  # the item's steps and ingest
    throttles = json.dumps(found["AI-service throttles"]["properties"]["metrics"])
    assert '"AWS/Bedrock", "InvocationThrottles", "ModelId", "amazon.nova-lite-v1:0"' in throttles
    assert '"AWS/Textract", "ThrottledCount", "Operation", "StartDocumentTextDetection"' in throttles
    queues = found["Dead-letter queue depth"]["properties"]["metrics"]
    assert len(queues) == 3 and all(m[1] == "ApproximateNumberOfMessagesVisible" for m in queues)
    assert len(found["Alarms"]["properties"]["alarms"]) == len(synth.stack.operations.alarms) == 6


def test_failure_rate_alarm_fires_at_ten_percent_of_finished_items(synth):
    props = alarm(synth, "FailureRate")
    assert props["Threshold"] == 10 and props["EvaluationPeriods"] == 1
    assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and props["TreatMissingData"] == "notBreaching"
    [expression] = [m for m in props["Metrics"] if "Expression" in m]
    assert expression["Expression"] == "IF(succeeded + failed >= 5, 100 * failed / (succeeded + failed), 0)"
    metrics = {m["Id"]: m["MetricStat"] for m in props["Metrics"] if "MetricStat" in m}
    assert {i: (s["Metric"]["MetricName"], s["Metric"]["Dimensions"], s["Period"], s["Stat"]) for i, s in metrics.items()} == {
        status.lower(): ("ItemsFinished", [{"Name": "service", "Value": "media-pipeline"},
                                           {"Name": "status", "Value": status}], 900, "Sum")
        for status in ("SUCCEEDED", "FAILED")}


def test_enrichment_failed_alarm_fires_at_twenty_percent_for_45_minutes(synth):
    props = alarm(synth, "EnrichmentFailedRate")
    assert props["Threshold"] == 20 and props["EvaluationPeriods"] == 3
    warned = [m["MetricStat"]["Metric"] for m in props["Metrics"] if m["Id"] == "warned"][0]
    assert warned["MetricName"] == "ItemWarnings"
    assert {"Name": "warning_code", "Value": "ENRICHMENT_FAILED"} in warned["Dimensions"]


@pytest.mark.parametrize("name", ["IngestDeadLetter", "TranscribeCallbackDeadLetter", "TextractCallbackDeadLetter"])
def test_a_message_in_any_dead_letter_queue_alarms(synth, name):
    props = alarm(synth, name)
    assert props["MetricName"] == "ApproximateNumberOfMessagesVisible" and props["Namespace"] == "AWS/SQS"
    assert props["Threshold"] == 0 and props["ComparisonOperator"] == "GreaterThanThreshold" and props["Period"] == 300


def test_stuck_executions_alarm_on_timed_out_tasks_and_executions(synth):
    props = alarm(synth, "StuckExecutions")
    assert props["Threshold"] == 1
    stats = {m["Id"]: m["MetricStat"]["Metric"] for m in props["Metrics"] if "MetricStat" in m}
    assert stats["executions"]["MetricName"] == "ExecutionsTimedOut" and stats["executions"]["Namespace"] == "AWS/States"
    assert stats["express"]["MetricName"] == "ExecutionsTimedOut"  # an image's Express execution past 5 minutes
    machines = {stats[k]["Dimensions"][0]["Value"]["Ref"] for k in ("executions", "express")}
    assert machines == {synth.logical_id(synth.stack.workflow.state_machine),
                        synth.logical_id(synth.stack.workflow.express_state_machine)}
    assert {"Name": "reason_code", "Value": "TIMEOUT"} in stats["tasks"]["Dimensions"]


def test_every_alarm_notifies_the_encrypted_topic(synth):
    topic_id = synth.logical_id(synth.stack.operations.topic)
    topic = synth.json["Resources"][topic_id]
    assert "KmsMasterKeyId" in topic["Properties"]
    for name in synth.stack.operations.alarms:
        props = alarm(synth, name)
        assert props["AlarmActions"] == [{"Ref": topic_id}] and props["OKActions"] == [{"Ref": topic_id}], name
