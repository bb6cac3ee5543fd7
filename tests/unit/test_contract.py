"""media_pipeline.contract: the state's shape, typed. Real shapes come from the workflow tests' execution histories
(tests/data/workflow-states.json); each must come back from the types exactly as it went in."""
from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from media_pipeline.contract import (AudioPart, CaughtError, DocumentAnalysisTask, DocumentNeedsOcr, DocumentText,
                                     DocumentTextRead, EnrichmentResult, EnrichmentSkipped, MediaItem, PipelineState,
                                     ProbeResult, StateContractError, Steps, TranscriptionJob, TranscriptionTask,
                                     TranscriptResult, VideoResult, require)
from media_pipeline.errors import PipelineError, error_from_state

SHAPES = json.loads((Path(__file__).parents[1] / "data" / "workflow-states.json").read_text())["states"]
PAYLOAD_TYPES = {"StartTranscription": TranscriptionTask, "StartDocumentAnalysis": DocumentAnalysisTask}


def shape(name: str) -> dict:
    [found] = [s["value"] for s in SHAPES if s["name"] == name]
    return copy.deepcopy(found)


def contract_type(name: str) -> type:
    return PAYLOAD_TYPES.get(name.split(" ")[0], PipelineState)


@pytest.mark.parametrize("name", [s["name"] for s in SHAPES])
def test_every_recorded_shape_round_trips_exactly(name):
    value = shape(name)
    parsed = contract_type(name).from_state(value)
    assert parsed.to_state() == value
    assert json.loads(json.dumps(parsed.to_state())) == value  # JSON-ready: nothing but plain values


def test_the_recorded_shapes_cover_every_step_and_variant():
    states = [contract_type(s["name"]).from_state(s["value"]) for s in SHAPES]
    steps = [s.state.steps if isinstance(s, DocumentAnalysisTask) else s.steps for s in states
             if not isinstance(s, TranscriptionTask)]
    kinds = {type(result).__name__ for step in steps for _, result in step.results()}
    assert kinds >= {"ProbeResult", "VideoResult", "AudioParts", "TranscriptionJob", "TranscriptResult",
                     "DocumentTextRead", "DocumentNeedsOcr", "OcrResult", "DocumentText", "EnrichmentResult",
                     "EnrichmentSkipped", "CaughtError"}
    assert {s.steps.probe.route for s in states if isinstance(s, PipelineState) and s.steps.probe} == {"lambda", "fargate"}
    assert any(isinstance(s, PipelineState) and s.failed for s in states)


def test_a_video_state_reads_as_types():
    state = PipelineState.from_state(shape("Finalize payload (video, route fargate)"))
    assert isinstance(state.media, MediaItem) and state.media.media_type == "video"
    assert isinstance(state.steps.probe, ProbeResult) and state.steps.probe.route == "fargate"
    assert isinstance(state.steps.video, VideoResult)
    [part] = state.steps.video.audio_parts
    assert isinstance(part, AudioPart) and part.key.endswith("/video/audio-0.flac") and part.duration_seconds
    assert [p.key for p in state.steps.audio.parts] == [part.key]  # PrepareVideoAudio passed them on
    assert isinstance(state.steps.transcription[0], TranscriptionJob)
    assert isinstance(state.steps.transcript, TranscriptResult) and isinstance(state.steps.enrichment, EnrichmentResult)
    assert state.error is None and state.failed is None


def test_a_silent_video_has_no_audio():
    state = PipelineState.from_state(shape("Finalize payload (video, route lambda, no audio track)"))
    assert state.steps.video.audio is None and state.steps.video.audio_parts == []
    assert state.steps.audio is None and state.steps.transcript is None


def test_the_document_result_is_typed_by_its_mode():
    ocr = DocumentAnalysisTask.from_state(shape("StartDocumentAnalysis payload (a PDF that needs OCR)"))
    document = ocr.state.steps.document
    assert isinstance(document, DocumentNeedsOcr) and document.ocr_input_key.endswith("ocr-input.pdf")
    assert ocr.task_token
    text_layer = PipelineState.from_state(shape("Finalize payload (document, document mode text_layer)")).steps
    assert isinstance(text_layer.document, DocumentTextRead) and text_layer.document.blocks_key is None
    assert isinstance(text_layer.document_text, DocumentText)
    assert text_layer.document_text.page_sources.textract == []


def test_enrichment_is_a_result_a_skip_or_the_caught_error():
    failed = PipelineState.from_state(shape("Finalize payload (audio, enrichment failed)")).steps.enrichment
    assert isinstance(failed, CaughtError) and error_from_state(failed.error, failed.cause)["code"]
    skipped = PipelineState.from_state(shape("Finalize payload (audio, enrichment skipped)")).steps.enrichment
    assert isinstance(skipped, EnrichmentSkipped) and skipped.model_calls == 0


def test_record_failure_carries_the_flag_and_the_caught_error():
    state = PipelineState.from_state(shape("RecordFailure payload (audio, failed: TRANSCRIBE_JOB_FAILED)"))
    assert state.failed is True and state.error == CaughtError(error="TRANSCRIBE_JOB_FAILED", cause=state.error.cause)
    assert state.steps.transcription is None and state.steps.audio is not None


def test_a_missing_key_names_the_step_and_the_key():
    value = shape("Finalize payload (audio)")
    del value["steps"]["transcript"]["segments_key"]
    with pytest.raises(StateContractError) as caught:
        PipelineState.from_state(value)
    error = caught.value
    assert (error.where, error.key, error.step) == ("steps.transcript", "segments_key", "transcript")
    assert error.reason == "steps.transcript: key 'segments_key' is missing"
    assert isinstance(error, PipelineError) and error.code == "INVALID_STATE"
    assert json.loads(str(error)) == {"code": "INVALID_STATE", "message": error.reason}  # what RecordFailure reads


def test_a_missing_key_in_a_map_item_names_the_item():
    value = shape("Finalize payload (audio)")
    del value["steps"]["transcription"][0]["job_name"]
    with pytest.raises(StateContractError, match=r"steps\.transcription\[0\]: key 'job_name' is missing") as caught:
        PipelineState.from_state(value)
    assert caught.value.step == "transcription"


@pytest.mark.parametrize("path, message", [
    (("media", "bucket"), "media: key 'bucket' is missing"),
    (("steps", "document", "mode"), "steps.document: key 'mode' is missing"),
    (("steps", "document_text", "page_sources", "textract"), "steps.document_text.page_sources: key 'textract' is missing"),
    (("steps",), "the state: key 'steps' is missing"),
])
def test_missing_keys_elsewhere(path, message):
    value = shape("Finalize payload (document, document mode text_layer)")
    parent = value
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(StateContractError) as caught:
        PipelineState.from_state(value)
    assert caught.value.reason == message


def test_a_step_result_of_the_wrong_kind_is_named():
    value = shape("Finalize payload (audio)")
    value["steps"]["transcription"] = {"job_name": "not a list"}
    with pytest.raises(StateContractError, match=r"steps\.transcription is dict, not a list"):
        PipelineState.from_state(value)


def test_a_null_where_a_value_is_required_is_kept_as_it_came():
    """Values are not checked or coerced: the contract is about keys; a null stays a null."""
    value = shape("Finalize payload (audio)")
    value["steps"]["transcript"]["language"] = None
    assert PipelineState.from_state(value).to_state() == value


def test_unknown_keys_and_steps_pass_through():
    value = shape("Finalize payload (audio)")
    value["steps"]["transcript"]["speakers"] = 2
    value["steps"]["transcription"][0]["confidence"] = 0.9
    value["steps"]["translation"] = {"text_key": "results/x/translation.txt", "warnings": [{"code": "X", "message": "m"}]}
    value["media"]["uploaded_by"] = "someone"
    value["result"] = {"status": "SUCCEEDED"}
    state = PipelineState.from_state(value)
    assert state.steps.transcript.extra == {"speakers": 2}
    assert state.steps.extra == {"translation": value["steps"]["translation"]}
    assert ("translation", value["steps"]["translation"]) in state.steps.results()
    assert state.to_state() == value


def test_optional_keys_stay_absent():
    """`warnings` may be left out of a step result, `duration_seconds` of an audio part: a round trip adds neither."""
    job = {"job_name": "media-x-0", "transcript_key": None, "language": None}
    assert TranscriptionJob.from_state(job).to_state() == job
    part = {"bucket": "b", "key": "uploads/a.wav", "offset_seconds": 0}
    assert AudioPart.from_state(part).to_state() == part
    assert Steps().to_state() == {}


def test_results_are_in_execution_order():
    state = PipelineState.from_state(shape("Finalize payload (video, route lambda)"))
    assert [name for name, _ in state.steps.results()] == ["probe", "video", "audio", "transcription", "transcript",
                                                          "enrichment"]


def test_require_names_what_is_missing():
    assert require("x", "steps", "ocr") == "x"
    with pytest.raises(StateContractError, match="steps: key 'ocr' is missing") as caught:
        require(None, "steps", "ocr")
    assert caught.value.step == "ocr"


def test_the_contract_imports_no_aws_library():
    code = ("import sys, media_pipeline.contract; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'aws_lambda_powertools')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
