"""functions/redact_pii on moto, as its role from the template (tests/functions/conftest.py): Comprehend's
DetectPiiEntities is answered by the offline detector through the emulator's workaround (moto's is a fixed
answer); and start_transcription's request when the deployment turns content redaction on."""
from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from media_pipeline.local import iam, moto_gaps
from media_pipeline.local.engines import pii as detector
from media_pipeline.local.moto_gaps import LambdaContext
from tests.conftest import BUCKET

MEDIA_ID = "0123456789abcdef0123456789abcdef"
TEXT_KEY = f"results/{MEDIA_ID}/text.txt"
PAGES_KEY = f"results/{MEDIA_ID}/pages.json"
BLOCKS_KEY = f"results/{MEDIA_ID}/textract-blocks.json"
PAGE_1 = "Contact: jane.doe@example.com, phone +44 20 7946 0958."
PAGE_2 = "IBAN DE89 3704 0044 0532 0130 00, card 4111 1111 1111 1111, order 4111 1111 1111 1112."
TEXT = f"{PAGE_1}\n\n{PAGE_2}"
REDACTED = ("Contact: [EMAIL], phone [PHONE].\n\n"
            "IBAN [INTERNATIONAL_BANK_ACCOUNT_NUMBER], card [CREDIT_DEBIT_NUMBER], order 4111 1111 1111 1112.")


class Detector:
    """The offline detector, recording what Comprehend was sent."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def __call__(self, text: str, language: str) -> dict[str, Any]:
        self.calls.append((text, language))
        if self.fail:
            raise self.fail
        return detector.detect_pii_entities(text, language)


@pytest.fixture
def enabled(aws, monkeypatch):
    from media_pipeline import settings

    monkeypatch.setenv("PII_REDACTION", "enabled")
    settings.settings.cache_clear()
    yield monkeypatch
    settings.settings.cache_clear()


@pytest.fixture
def comprehend(enabled) -> Detector:
    stand_in = Detector()
    moto_gaps.install_ai_engines(comprehend_pii=stand_in)
    yield stand_in
    moto_gaps.uninstall()


def s3() -> Any:
    return boto3.client("s3")


def read(key: str) -> str:
    return s3().get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8")


def state(steps: dict[str, Any], media_type: str = "document") -> dict[str, Any]:
    media = {"media_id": MEDIA_ID, "bucket": BUCKET, "key": "uploads/a", "version_id": "v", "etag": "e", "size": 1,
             "media_type": media_type, "detected_format": "pdf", "source": f"s3://{BUCKET}/uploads/a"}
    return {"media": media, "steps": steps}


def document_state(text: str = TEXT) -> dict[str, Any]:
    s3().put_object(Bucket=BUCKET, Key=TEXT_KEY, Body=text.encode("utf-8"))
    pages = [{"page": 1, "text": PAGE_1, "source": "textract"}, {"page": 2, "text": PAGE_2, "source": "textract"}]
    s3().put_object(Bucket=BUCKET, Key=PAGES_KEY, Body=json.dumps(pages).encode())
    s3().put_object(Bucket=BUCKET, Key=BLOCKS_KEY, Body=b'[{"BlockType": "WORD", "Text": "jane.doe@example.com"}]')
    return state({"document_text": {"text_key": TEXT_KEY, "pages_key": PAGES_KEY, "blocks_key": BLOCKS_KEY,
                                    "page_count": 2, "page_sources": {"text_layer": [], "textract": [1, 2]},
                                    "warnings": []}})


def redact(event: dict[str, Any]) -> dict[str, Any]:
    from functions.redact_pii.handler import handler

    return handler(event, LambdaContext("redact_pii", "arn:aws:lambda:us-east-1:123456789012:function:redact_pii"))


def test_a_document_is_redacted_by_comprehend_as_its_role(comprehend):
    iam.clear_decisions()
    result = redact(document_state())
    assert result == {
        "redacted": True, "source": "comprehend",
        "entity_counts": {"CREDIT_DEBIT_NUMBER": 1, "EMAIL": 1, "INTERNATIONAL_BANK_ACCOUNT_NUMBER": 1, "PHONE": 1},
        "redacted_text_key": f"results/{MEDIA_ID}/text.redacted.txt",
        "entities_key": f"results/{MEDIA_ID}/pii-entities.json", "unredacted_kept": True, "warnings": []}
    assert read(result["redacted_text_key"]) == REDACTED
    entities = json.loads(read(result["entities_key"]))
    assert [TEXT[e["begin"]:e["end"]] for e in entities] == [
        "jane.doe@example.com", "+44 20 7946 0958", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111"]
    assert set(entities[0]) == {"type", "begin", "end", "score"}
    assert comprehend.calls == [(TEXT, "en")]
    assert read(TEXT_KEY) == TEXT  # kept by default
    made = {(d.request.action, d.request.resource, d.principal.rsplit("/", 1)[-1]) for d in iam.decisions()}
    assert ("comprehend:DetectPiiEntities", "*", "RedactPiiRole") in made
    assert ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/results/{MEDIA_ID}/text.redacted.txt", "RedactPiiRole") in made


def test_without_keep_unredacted_the_text_pages_and_blocks_are_overwritten(comprehend, enabled):
    from media_pipeline import settings

    enabled.setenv("KEEP_UNREDACTED", "false")
    settings.settings.cache_clear()
    result = redact(document_state())
    assert result["unredacted_kept"] is False and len(comprehend.calls) == 1
    assert read(TEXT_KEY) == REDACTED == read(result["redacted_text_key"])
    pages = json.loads(read(PAGES_KEY))
    assert [p["text"] for p in pages] == REDACTED.split("\n\n")
    assert json.loads(read(BLOCKS_KEY)) == []


def test_a_long_text_is_sent_in_chunks_and_offsets_are_the_whole_texts(comprehend):
    text = ("filler words here " * 8000) + "write to late@example.org today"  # 144,000 bytes before the address
    result = redact(document_state(text))
    assert len(comprehend.calls) == 2 and all(len(t.encode()) <= 100_000 for t, _ in comprehend.calls)
    [entity] = json.loads(read(result["entities_key"]))
    assert text[entity["begin"]:entity["end"]] == "late@example.org"
    assert read(result["redacted_text_key"]).endswith("write to [EMAIL] today")


def test_audio_counts_transcribes_redactions_without_comprehend(comprehend):
    redacted = {"results": {"transcripts": [{"transcript": "Call [PII] or mail [PII] ."}], "items": [
        {"type": "pronunciation", "alternatives": [{"content": "Call"}]},
        {"type": "pronunciation", "alternatives": [{"content": "[PII]", "redactions": [
            {"type": "PHONE", "category": "PII", "confidence": "0.99"}]}]},
        {"type": "pronunciation", "alternatives": [{"content": "[PII]", "redactions": [
            {"type": "PII", "category": "PII", "confidence": "0.99"}]}]}]}}
    key = f"results/{MEDIA_ID}/redacted-transcribe-0.json"
    s3().put_object(Bucket=BUCKET, Key=key, Body=json.dumps(redacted).encode())
    steps = {"transcript": {"text_key": f"results/{MEDIA_ID}/transcript.txt", "segments_key": "s", "vtt_key": "v",
                            "srt_key": "r", "transcribe_keys": [key], "language": "en-US", "words": 5,
                            "duration_seconds": 2.0, "warnings": []}}
    assert redact(state(steps, "audio")) == {
        "redacted": True, "source": "transcribe", "entity_counts": {"PHONE": 1, "PII": 1},
        "redacted_text_key": f"results/{MEDIA_ID}/transcript.txt", "entities_key": None, "unredacted_kept": True,
        "warnings": []}
    assert comprehend.calls == []


def test_turned_off_by_default(aws):
    stand_in = Detector()
    moto_gaps.install_ai_engines(comprehend_pii=stand_in)
    try:
        assert redact(document_state())["disabled"] is True
    finally:
        moto_gaps.uninstall()
    assert stand_in.calls == [] and read(TEXT_KEY) == TEXT


def test_a_failure_is_pii_redaction_failed_and_still_retried_when_throttled(enabled):
    from media_pipeline import pii
    from media_pipeline.errors import PipelineError, ThrottledError

    moto_gaps.install_ai_engines(comprehend_pii=Detector(fail=moto_gaps._service_error("AccessDeniedException", "no")))
    try:
        with pytest.raises(PipelineError) as denied:
            redact(document_state())
        assert type(denied.value) is PipelineError and denied.value.code == "PII_REDACTION_FAILED"
        assert denied.value.reason.startswith("COMPREHEND_ACCESS_DENIED: ")

        def throttled(text: str, language: str) -> list:
            raise ThrottledError("Comprehend DetectPiiEntities: ThrottlingException: slow", code="COMPREHEND_THROTTLED")

        enabled.setattr(pii, "comprehend_entities", throttled)
        with pytest.raises(ThrottledError) as retried:  # the class the ASL's Retry matches
            redact(document_state())
        assert retried.value.code == "PII_REDACTION_FAILED"
        assert retried.value.reason.startswith("COMPREHEND_THROTTLED: ")
    finally:
        moto_gaps.uninstall()
    with pytest.raises(PipelineError) as broken:
        redact(state({"document_text": {"text_key": TEXT_KEY}}))  # a state without the keys the step needs
    assert broken.value.code == "PII_REDACTION_FAILED" and "INVALID_STATE" in broken.value.reason


# ---- start_transcription: Transcribe's content redaction -------------------------------------------------------

def start_request(env: pytest.MonkeyPatch, keep: str | None) -> dict[str, Any]:
    """The exact StartTranscriptionJob request (Transcribe under Stubber, which fails on any other request)."""
    from functions.start_transcription.handler import handler
    from media_pipeline import aws as clients
    from media_pipeline import settings

    if keep is not None:
        env.setenv("KEEP_UNREDACTED", keep)
    settings.settings.cache_clear()
    transcribe = boto3.client("transcribe", region_name="us-east-1")
    clients._clients[("transcribe", None)] = transcribe
    expected = {"TranscriptionJobName": f"media-{MEDIA_ID}-0", "Media": {"MediaFileUri": f"s3://{BUCKET}/uploads/a.wav"},
                "OutputBucketName": BUCKET, "OutputKey": f"results/{MEDIA_ID}/transcribe-0.json",
                "LanguageCode": "en-US",  # redaction: en-US or es-US, never with language identification
                "ContentRedaction": {"RedactionType": "PII",
                                     "RedactionOutput": "redacted" if keep == "false" else "redacted_and_unredacted"}}
    media = {"media_id": MEDIA_ID, "bucket": BUCKET, "key": "uploads/a.wav", "version_id": None, "etag": "e", "size": 10,
             "media_type": "audio", "detected_format": "wav", "source": f"s3://{BUCKET}/uploads/a.wav"}
    event = {"task_token": "token-1", "media": media, "index": 0,
             "part": {"bucket": BUCKET, "key": "uploads/a.wav", "offset_seconds": 0}}
    with Stubber(transcribe) as stub:
        stub.add_response("start_transcription_job", {"TranscriptionJob": {"TranscriptionJobName": f"media-{MEDIA_ID}-0"}},
                          expected)
        assert handler(event, LambdaContext("start_transcription", "arn:aws:lambda:us-east-1:123456789012:function:start_transcription"))["started"] is True
        stub.assert_no_pending_responses()
    return expected


def test_start_transcription_asks_for_redacted_and_unredacted_when_kept(enabled):
    start_request(enabled, None)


def test_start_transcription_asks_for_redacted_only_when_not_kept(enabled):
    start_request(enabled, "false")


def test_start_transcription_without_redaction_is_unchanged(aws):
    from functions.start_transcription.handler import job_request
    from media_pipeline.contract import AudioPart, MediaItem

    media = MediaItem.from_state({"media_id": MEDIA_ID, "bucket": BUCKET, "key": "k", "version_id": None, "etag": "e",
                                  "size": 1, "media_type": "audio", "source": "s3://b/k"})
    assert "ContentRedaction" not in job_request(media, AudioPart(bucket=BUCKET, key="k", offset_seconds=0), 0)
