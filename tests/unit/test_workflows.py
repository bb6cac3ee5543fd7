"""media_pipeline/workflows.py: the Express definition is the Standard one's synchronous image route, derived."""
from __future__ import annotations

import json

import pytest

from media_pipeline import workflows

STANDARD = json.loads(workflows.standard_text())
EXPRESS = workflows.express_definition(STANDARD)


def test_the_express_definition_has_no_callback_or_wait():
    assert not any(workflows.waits(state) for state in EXPRESS["States"].values())
    text = json.dumps(EXPRESS)
    assert ".waitForTaskToken" not in text and ".sync" not in text and "$$.Task.Token" not in text
    assert not any(state["Type"] in ("Wait", "Map", "Parallel") for state in EXPRESS["States"].values())


def test_its_step_states_are_the_standard_ones_byte_for_byte():
    tasks = {name: state for name, state in EXPRESS["States"].items() if state["Type"] == "Task"}
    assert list(tasks) == ["AnalyzeDocument", "CollectDocumentText", "IdentifyLanguage", "RedactPii", "Enrich",
                           "Finalize", "RecordFailure"]
    for name, state in tasks.items():
        assert json.dumps(state, sort_keys=True) == json.dumps(STANDARD["States"][name], sort_keys=True), name
    for name in ("DocumentNeedsOcr", "MediaFailed"):
        assert EXPRESS["States"][name] == STANDARD["States"][name]
    assert EXPRESS["StartAt"] == "AnalyzeDocument"


def test_every_transition_lands_on_a_state_of_the_definition():
    names = set(EXPRESS["States"])
    for state in EXPRESS["States"].values():
        assert set(workflows.next_states(state)) <= names
    assert {"ProbeAudio", "Transcribe", "ExtractMediaOnFargate", "RouteByMediaType"}.isdisjoint(names)


def test_a_wait_on_the_way_becomes_a_recorded_failure():
    stub = EXPRESS["States"]["StartDocumentAnalysis"]
    assert stub["Type"] == "Pass" and stub["Next"] == "RecordFailure" and stub["ResultPath"] == "$.error"
    assert stub["Result"]["Error"] == workflows.NEEDS_STANDARD


@pytest.mark.parametrize(("media_type", "fmt", "workflow"), [
    ("image", "png", "express"), ("image", "jpeg", "express"), ("image", "webp", "express"),
    ("image", "heic", "express"), ("image", "tiff", "standard"),  # may have pages for an asynchronous job
    ("document", "pdf", "standard"), ("audio", "wav", "standard"), ("video", "mp4", "standard"),
    ("unknown", None, "standard"),
])
def test_only_images_read_synchronously_go_express(media_type, fmt, workflow):
    assert workflows.workflow_for(media_type, fmt) == workflow


def test_express_execution_arns():
    assert workflows.is_express_execution("arn:aws:states:us-east-1:1:express:media-pipeline-express:m:0f1e")
    assert not workflows.is_express_execution("arn:aws:states:us-east-1:1:execution:media-pipeline:m")
    assert not workflows.is_express_execution(None) and not workflows.is_express_execution("")
