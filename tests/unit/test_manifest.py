"""media_pipeline.manifest: each section from the typed state, without AWS (result files from a dict)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from media_pipeline import manifest as manifests
from media_pipeline.contract import PipelineState, Steps

SHAPES = {s["name"]: s["value"] for s in json.loads(
    (Path(__file__).parents[1] / "data" / "workflow-states.json").read_text())["states"]}
STATES = {name: value for name, value in SHAPES.items() if name.startswith(("Finalize", "RecordFailure"))}


def stored(bucket: str, key: str) -> Any:
    """What the steps wrote, by file name: enough for every section to have something to read."""
    name = key.rsplit("/", 1)[-1]
    return {
        "transcript.txt": "Welcome to the pipeline.\n", "text.txt": "Page one.\n",
        "segments.json": [{"start": 0.0, "end": 1.5, "text": "Welcome to the pipeline.", "speaker": None}],
        "pages.json": [{"page": 1, "text": "Page one.", "source": "textract", "lines": 1}],
        "enrichment.json": {"title": "T", "summary": "S", "keywords": ["k"], "model": "m", "model_calls": 1,
                            "input_tokens": 10, "output_tokens": 5, "prompt_version": 2},
    }[name]


FILES = manifests.ResultFiles("bucket", stored, stored)


def build(name: str) -> dict[str, Any]:
    return manifests.build_manifest(PipelineState.from_state(STATES[name]), FILES)


@pytest.mark.parametrize("name", sorted(STATES))
def test_every_recorded_state_gives_a_valid_manifest(name):
    manifest = build(name)
    assert manifests.validate(manifest) is manifest
    assert manifest["status"] == ("FAILED" if name.startswith("RecordFailure") else "SUCCEEDED")


def test_an_audio_manifest():
    manifest = build("Finalize payload (audio)")
    media_id = manifest["media_id"]
    transcript = PipelineState.from_state(STATES["Finalize payload (audio)"]).steps.transcript
    assert manifest["transcript"] == {"text": "Welcome to the pipeline.", "language": transcript.language,
                                      "duration_seconds": transcript.duration_seconds,
                                      "segments": stored("bucket", "segments.json")}
    assert manifest["enrichment"] == {"title": "T", "summary": "S", "keywords": ["k"], "model": "m", "model_calls": 1,
                                      "input_tokens": 10, "output_tokens": 5}  # only the schema's fields
    assert list(manifest["artifacts"]) == ["transcript_text", "segments", "captions_vtt", "captions_srt",
                                           "transcribe_json_0", "enrichment"]
    assert manifest["artifacts"]["captions_vtt"] == f"s3://bucket/results/{media_id}/captions.vtt"
    assert set(manifest["usage"]) == {"transcribe_jobs", "model_calls", "model_input_tokens", "model_output_tokens"}
    assert "video" not in manifest and "text" not in manifest and "error" not in manifest


def test_a_video_manifest_has_its_section_thumbnails_and_seconds():
    state = PipelineState.from_state(STATES["Finalize payload (video, route lambda)"])
    manifest = manifests.build_manifest(state, FILES)
    video = state.steps.video
    assert manifest["video"] == {"duration_seconds": state.steps.probe.duration_seconds, "has_audio": True,
                                 "route": "lambda", "thumbnails": [f"s3://bucket/{k}" for k in video.thumbnail_keys],
                                 "poster": f"s3://bucket/{video.poster_key}"}
    assert manifest["usage"]["media_seconds"] == state.steps.probe.duration_seconds
    assert manifest["usage"]["transcribe_seconds"] == round(sum(p.duration_seconds for p in video.audio_parts), 3)
    assert "audio_0" in manifest["artifacts"] and "poster" in manifest["artifacts"]


def test_a_document_manifest_counts_its_pages_by_source():
    manifest = build("Finalize payload (document, document mode async)")
    assert manifest["text"] == {"content": "Page one.", "pages": [{"page": 1, "text": "Page one.", "source": "textract"}]}
    steps = PipelineState.from_state(STATES["Finalize payload (document, document mode async)"]).steps
    assert manifest["usage"]["textract_pages"] == len(steps.document_text.page_sources.textract)
    assert manifest["usage"]["text_layer_pages"] == len(steps.document_text.page_sources.text_layer)
    assert {"text", "pages", "textract_blocks"} <= set(manifest["artifacts"])


def test_a_failed_enrichment_is_a_warning_and_no_section():
    manifest = build("Finalize payload (audio, enrichment failed)")
    assert manifest["warnings"][0]["code"] == "ENRICHMENT_FAILED"
    assert "enrichment" not in manifest and "enrichment" not in manifest["artifacts"]
    assert "model_calls" not in manifest["usage"]


def test_a_skipped_enrichment_counts_no_tokens():
    manifest = build("Finalize payload (audio, enrichment skipped)")
    assert {"code": "ENRICHMENT_SKIPPED", "message": "there is no text to summarise"} in manifest["warnings"]
    assert (manifest["usage"]["model_calls"], manifest["usage"]["model_input_tokens"]) == (0, 0)


def test_a_failure_keeps_its_reason_and_what_ran_before():
    manifest = build("RecordFailure payload (audio, failed: TRANSCRIBE_JOB_FAILED)")
    assert manifest["error"]["code"] == "TRANSCRIBE_JOB_FAILED"
    assert "transcript" not in manifest and manifest["artifacts"] == {}


def test_warnings_are_gathered_once_in_execution_order():
    warning = {"code": "NO_SPEECH_DETECTED", "message": "no speech"}
    steps = Steps.from_state({
        "transcription": [{"job_name": "a", "transcript_key": None, "language": None, "warnings": [warning]},
                          {"job_name": "b", "transcript_key": None, "language": None, "warnings": [warning]}],
        "enrichment": {"skipped": True, "model_calls": 0, "warnings": [{"code": "ENRICHMENT_SKIPPED", "message": "m"}]},
        "probe": {"duration_seconds": 1.0, "has_audio": True, "has_video": True, "size": 1, "format": "mp4",
                  "bit_rate": None, "streams": [], "route": "lambda", "warnings": [{"code": "NO_VIDEO_TRACK", "message": "v"}]},
    })
    assert [w["code"] for w in manifests.warnings_section(steps)] == ["NO_VIDEO_TRACK", "NO_SPEECH_DETECTED",
                                                                      "ENRICHMENT_SKIPPED"]


def test_extra_warnings_come_after_the_steps():
    extra = [{"code": "INVALID_STATE", "message": "steps.transcript: key 'text_key' is missing"}]
    manifest = manifests.build_manifest(PipelineState.from_state(STATES["Finalize payload (audio, enrichment skipped)"]),
                                        FILES, extra)
    assert manifest["warnings"][-1] == extra[0]


def test_a_pii_section_for_a_redacted_document_and_a_redacted_transcript():
    document = build("Finalize payload (document, document mode text_layer, PII redacted, unredacted text not kept)")
    media_id = document["media_id"]
    assert document["pii"] == {
        "redacted": True, "source": "comprehend", "entity_counts": {"EMAIL": 1, "PHONE": 1},
        "redacted_text": f"s3://bucket/results/{media_id}/text.redacted.txt",
        "entities": f"s3://bucket/results/{media_id}/pii-entities.json", "unredacted_kept": False}
    assert document["text"]["redacted"] is True  # the text section is the redacted text
    assert document["artifacts"]["pii_entities"] == document["pii"]["entities"]
    audio = build("Finalize payload (audio, PII redacted by Transcribe)")
    assert audio["pii"]["source"] == "transcribe" and audio["pii"]["entities"] is None
    assert audio["transcript"]["redacted"] is True


def test_a_failed_required_redaction_leaves_the_text_out_of_the_manifest():
    state = dict(STATES["Finalize payload (document, document mode text_layer)"])
    cause = json.dumps({"errorType": "PipelineError", "errorMessage": json.dumps(
        {"code": "PII_REDACTION_FAILED", "message": "COMPREHEND_ACCESS_DENIED: denied"})})
    state.update(failed=True, error={"Error": "PipelineError", "Cause": cause})
    manifest = manifests.build_manifest(PipelineState.from_state(state), FILES)
    assert manifest["error"]["code"] == "PII_REDACTION_FAILED" and "text" not in manifest
    assert manifests.validate(manifest) is manifest


def test_a_disabled_redaction_has_no_section():
    state = json.loads(json.dumps(STATES["Finalize payload (audio)"]))
    state["steps"]["pii"] = {"redacted": False, "source": None, "entity_counts": {}, "redacted_text_key": None,
                             "entities_key": None, "unredacted_kept": True, "disabled": True, "warnings": []}
    manifest = manifests.build_manifest(PipelineState.from_state(state), FILES)
    assert "pii" not in manifest and "redacted" not in manifest["transcript"]
