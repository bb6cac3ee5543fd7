"""The IdentifyLanguage state in the real ASL: Comprehend (a stand-in) for documents, Transcribe's identified language
for audio, a warning for an item without text, and a failure kept by its Catch instead of failing the item."""
from __future__ import annotations

import json
from typing import Any

from media_pipeline.errors import PipelineError
from tests.document_factory import text_pdf
from tests.media_factory import wav_bytes

GERMAN = ["Der Vorstand hat das Budget genehmigt", "und die Sitzung ist im Mai."]


def state_output(history: list[dict[str, Any]], state: str) -> dict[str, Any]:
    [output] = [json.loads(e["stateExitedEventDetails"]["output"]) for e in history
                if e["type"].endswith("StateExited") and e["stateExitedEventDetails"]["name"] == state]
    return output


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def test_a_german_document_gets_its_language_from_comprehend(pipeline, engines):
    upload = pipeline.upload(text_pdf([GERMAN]), name="vorstand.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    history = pipeline.history(upload.media_id)
    assert entered(history)[-4:] == ["IdentifyLanguage", "RedactPii", "Enrich", "Finalize"]
    assert state_output(history, "IdentifyLanguage")["steps"]["language"] == {
        "code": "de", "score": 0.98, "source": "comprehend", "warnings": []}
    [text] = engines.comprehend_texts
    assert text.startswith("Der Vorstand hat das Budget genehmigt")
    assert not any(w["code"].startswith("LANGUAGE") for w in manifest["warnings"])
    assert manifest["language"] == {"code": "de", "score": 0.98, "source": "comprehend"}


def test_audio_keeps_the_language_transcribe_identified(pipeline, engines):
    upload = pipeline.upload(wav_bytes(0.8), name="language.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    history = pipeline.history(upload.media_id)
    steps = state_output(history, "IdentifyLanguage")["steps"]
    # The emulated Transcribe identifies en-US with IdentifiedLanguageScore 0.99; the callback carries the score.
    assert steps["transcription"][0]["language_score"] == 0.99
    assert steps["language"] == {"code": "en-US", "score": 0.99, "source": "transcribe", "warnings": []}
    assert engines.comprehend_texts == []  # no Comprehend call for audio
    assert manifest["language"] == {"code": "en-US", "score": 0.99, "source": "transcribe"}


def test_silence_gets_no_language_and_a_warning(pipeline, engines):
    engines.silence = True
    upload = pipeline.upload(wav_bytes(0.9), name="quiet.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    language = state_output(pipeline.history(upload.media_id), "IdentifyLanguage")["steps"]["language"]
    assert (language["code"], language["score"], language["source"]) == (None, None, None)
    assert [w["code"] for w in language["warnings"]] == ["LANGUAGE_NOT_IDENTIFIED"]
    assert "LANGUAGE_NOT_IDENTIFIED" in [w["code"] for w in manifest["warnings"]]  # finalize gathers step warnings
    assert manifest["language"] == {"code": None, "score": None, "source": None}
    assert engines.comprehend_texts == []


def test_a_failed_identification_is_caught_and_the_item_succeeds(pipeline, engines, monkeypatch):
    from media_pipeline import language

    def broken(text: str) -> dict[str, Any]:
        raise PipelineError("Comprehend DetectDominantLanguage: AccessDeniedException: denied",
                            code="COMPREHEND_ACCESS_DENIED")

    monkeypatch.setattr(language, "detect", broken)
    upload = pipeline.upload(text_pdf([GERMAN]), name="unlucky-language.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and "error" not in manifest
    history = pipeline.history(upload.media_id)
    assert entered(history)[-4:] == ["IdentifyLanguage", "RedactPii", "Enrich", "Finalize"]
    caught = state_output(history, "IdentifyLanguage")["steps"]["language"]
    assert caught["Error"] == "PipelineError" and "COMPREHEND_ACCESS_DENIED" in caught["Cause"]
    assert manifest["enrichment"]["title"] == "Media pipeline welcome"  # the rest of the item went on
    assert "language" not in manifest
    [warning] = [w for w in manifest["warnings"] if w["code"] == "LANGUAGE_IDENTIFICATION_FAILED"]
    assert warning["message"].startswith("COMPREHEND_ACCESS_DENIED: ")
