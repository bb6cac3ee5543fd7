"""The RedactPii state in the real ASL, turned on: a document's text redacted by Comprehend (the offline detector),
an audio transcript redacted by the emulated Transcribe, the unredacted text gone when it is not kept, Enrich
summarising the redacted text, and a failed redaction failing the item."""
from __future__ import annotations

import json
from typing import Any

import pytest

from media_pipeline.local import moto_gaps
from media_pipeline.local.engines import pii as detector
from tests.document_factory import text_pdf
from tests.media_factory import wav_bytes

LINES = ["Contact jane.doe@example.com or +44 20 7946 0958.",
         "Pay to DE89 3704 0044 0532 0130 00 with card 4111 1111 1111 1111."]
REDACTED = ["Contact [EMAIL] or [PHONE].",
            "Pay to [INTERNATIONAL_BANK_ACCOUNT_NUMBER] with card [CREDIT_DEBIT_NUMBER]."]
SPOKEN = "Please call +44 20 7946 0958 or write to jane.doe@example.com today"
COUNTS = {"CREDIT_DEBIT_NUMBER": 1, "EMAIL": 1, "INTERNATIONAL_BANK_ACCOUNT_NUMBER": 1, "PHONE": 1}


@pytest.fixture
def redaction(pipeline, engines, monkeypatch):
    """PII redaction turned on (as `pii_redaction: true` in cdk.json sets it), the offline detector behind
    Comprehend; `redaction(keep=False)` also drops the unredacted text."""
    from media_pipeline import settings

    calls: list[str] = []

    def comprehend_pii(text: str, language: str) -> dict[str, Any]:
        calls.append(text)
        return detector.detect_pii_entities(text, language)

    moto_gaps.install_ai_engines(comprehend_pii=comprehend_pii)

    def configure(keep: bool = True) -> list[str]:
        monkeypatch.setenv("PII_REDACTION", "enabled")
        monkeypatch.setenv("KEEP_UNREDACTED", "true" if keep else "false")
        settings.settings.cache_clear()
        return calls

    yield configure
    monkeypatch.delenv("PII_REDACTION")
    monkeypatch.delenv("KEEP_UNREDACTED", raising=False)
    settings.settings.cache_clear()


def read(pipeline, key: str) -> str:
    return pipeline.client("s3").get_object(Bucket=pipeline.bucket, Key=key)["Body"].read().decode("utf-8")


def exists(pipeline, key: str) -> bool:
    return "Contents" in pipeline.client("s3").list_objects_v2(Bucket=pipeline.bucket, Prefix=key)


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def finished_history(pipeline, media_id: str) -> list[dict[str, Any]]:
    """The history once the execution has ended: the manifest is written one state before the Fail state."""
    import time

    sfn, deadline = pipeline.client("stepfunctions"), time.monotonic() + 30
    while sfn.describe_execution(executionArn=pipeline.execution_arn(media_id))["status"] == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return pipeline.history(media_id)


def test_a_document_is_redacted_and_enrich_summarises_the_redacted_text(pipeline, engines, redaction):
    calls = redaction(keep=True)
    upload = pipeline.upload(text_pdf([LINES]), name="contact.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert entered(pipeline.history(upload.media_id))[-4:] == ["IdentifyLanguage", "RedactPii", "Enrich", "Finalize"]
    results = f"results/{upload.media_id}"
    assert read(pipeline, f"{results}/text.redacted.txt").strip() == "\n".join(REDACTED)
    entities = json.loads(read(pipeline, f"{results}/pii-entities.json"))
    text = read(pipeline, f"{results}/text.txt")
    assert [text[e["begin"]:e["end"]] for e in entities] == [
        "jane.doe@example.com", "+44 20 7946 0958", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111"]
    assert len(calls) == 1
    uri = f"s3://{pipeline.bucket}/{results}"
    assert manifest["pii"] == {"redacted": True, "source": "comprehend", "entity_counts": COUNTS,
                               "redacted_text": f"{uri}/text.redacted.txt", "entities": f"{uri}/pii-entities.json",
                               "unredacted_kept": True}
    assert "jane.doe@example.com" in manifest["text"]["content"]  # kept: the text section is the item's own text
    assert "[EMAIL]" in engines.bedrock_prompts[-1] and "jane.doe@example.com" not in engines.bedrock_prompts[-1]


def test_without_keep_unredacted_the_documents_text_is_gone(pipeline, engines, redaction):
    redaction(keep=False)
    upload = pipeline.upload(text_pdf([LINES]), name="contact-dropped.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    results = f"results/{upload.media_id}"
    assert read(pipeline, f"{results}/text.txt").strip() == "\n".join(REDACTED)
    assert manifest["text"]["content"] == "\n".join(REDACTED) and manifest["text"]["redacted"] is True
    assert [p["text"] for p in manifest["text"]["pages"]] == ["\n".join(REDACTED)]
    assert manifest["pii"]["entity_counts"] == COUNTS and manifest["pii"]["unredacted_kept"] is False
    assert "jane.doe@example.com" not in json.dumps(manifest)


def spoken(audio: bytes, language: str | None) -> dict[str, Any]:
    items = [{"start_time": f"{i * 0.4:.2f}", "end_time": f"{i * 0.4 + 0.3:.2f}", "type": "pronunciation",
              "alternatives": [{"confidence": "0.98", "content": word}]} for i, word in enumerate(SPOKEN.split())]
    return {"results": {"language_code": "en-US", "transcripts": [{"transcript": SPOKEN}], "items": items}}


def test_audio_is_redacted_by_transcribe_and_the_unredacted_transcript_is_not_written(pipeline, engines, redaction):
    calls = redaction(keep=False)
    moto_gaps.install_ai_engines(transcribe=spoken)
    upload = pipeline.upload(wav_bytes(0.6), name="call.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    results = f"results/{upload.media_id}"
    assert manifest["transcript"]["text"] == "Please call [PII] or write to [PII] today"
    assert manifest["transcript"]["redacted"] is True
    assert manifest["pii"] == {"redacted": True, "source": "transcribe", "entity_counts": {"EMAIL": 1, "PHONE": 1},
                               "redacted_text": f"s3://{pipeline.bucket}/{results}/transcript.txt", "entities": None,
                               "unredacted_kept": False}
    assert exists(pipeline, f"{results}/redacted-transcribe-0.json")
    assert not exists(pipeline, f"{results}/transcribe-0.json")  # redacted only: no unredacted transcript
    assert calls == [SPOKEN]  # Transcribe's redaction used the detector; the step called no Comprehend
    assert "jane.doe@example.com" not in json.dumps(manifest)


def test_audio_keeps_the_unredacted_transcript_beside_when_kept(pipeline, engines, redaction):
    redaction(keep=True)
    moto_gaps.install_ai_engines(transcribe=spoken)
    upload = pipeline.upload(wav_bytes(0.6), name="call-kept.wav")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    results = f"results/{upload.media_id}"
    assert manifest["transcript"]["text"] == "Please call [PII] or write to [PII] today"
    unredacted = json.loads(read(pipeline, f"{results}/transcribe-0.json"))
    assert unredacted["results"]["transcripts"][0]["transcript"] == SPOKEN
    assert manifest["pii"]["unredacted_kept"] is True


def test_a_failed_redaction_fails_the_item_without_its_text_in_the_manifest(pipeline, engines, redaction, monkeypatch):
    from media_pipeline import pii
    from media_pipeline.errors import PipelineError

    redaction(keep=False)

    def broken(*args: Any, **kwargs: Any) -> list:
        raise PipelineError("Comprehend DetectPiiEntities: AccessDeniedException: denied", code="COMPREHEND_ACCESS_DENIED")

    monkeypatch.setattr(pii, "detect_entities", broken)
    upload = pipeline.upload(text_pdf([LINES]), name="unlucky-pii.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "FAILED"
    assert manifest["error"]["code"] == "PII_REDACTION_FAILED"
    assert manifest["error"]["message"].startswith("COMPREHEND_ACCESS_DENIED: ")
    assert "text" not in manifest and "enrichment" not in manifest
    assert entered(finished_history(pipeline, upload.media_id))[-3:] == ["RedactPii", "RecordFailure", "MediaFailed"]
