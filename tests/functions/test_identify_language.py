"""functions/identify_language on moto, as its role from the template (tests/functions/conftest.py): Comprehend's
DetectDominantLanguage is answered by a stand-in through the emulator's workaround (moto has none)."""
from __future__ import annotations

from typing import Any

import boto3
import pytest

from media_pipeline.local import iam, moto_gaps
from media_pipeline.local.moto_gaps import LambdaContext
from tests.conftest import BUCKET

MEDIA_ID = "0123456789abcdef0123456789abcdef"
TEXT_KEY = f"results/{MEDIA_ID}/text.txt"
GERMAN = "Die Pipeline erkennt die Sprache jedes Dokuments. Das ist ein deutscher Satz."


class StandIn:
    def __init__(self) -> None:
        self.texts: list[str] = []

    def __call__(self, text: str) -> dict[str, Any]:
        self.texts.append(text)
        return {"Languages": [{"LanguageCode": "de", "Score": 0.9912}, {"LanguageCode": "en", "Score": 0.0071}]}


@pytest.fixture
def comprehend(aws) -> StandIn:
    stand_in = StandIn()
    moto_gaps.install_ai_engines(comprehend_language=stand_in)
    yield stand_in
    moto_gaps.uninstall()


def state(steps: dict[str, Any], media_type: str = "document") -> dict[str, Any]:
    media = {"media_id": MEDIA_ID, "bucket": BUCKET, "key": "uploads/a", "version_id": "v", "etag": "e", "size": 1,
             "media_type": media_type, "detected_format": "pdf", "source": f"s3://{BUCKET}/uploads/a"}
    return {"media": media, "steps": steps}


def document_state(text: str) -> dict[str, Any]:
    boto3.client("s3").put_object(Bucket=BUCKET, Key=TEXT_KEY, Body=text.encode("utf-8"))
    return state({"document_text": {"text_key": TEXT_KEY, "pages_key": f"results/{MEDIA_ID}/pages.json",
                                    "blocks_key": None, "page_count": 1,
                                    "page_sources": {"text_layer": [1], "textract": []}, "warnings": []}})


def identify(event: dict[str, Any]) -> dict[str, Any]:
    from functions.identify_language.handler import handler

    return handler(event, LambdaContext("identify_language", "arn:aws:lambda:us-east-1:123456789012:function:identify_language"))


def test_a_document_gets_comprehends_language_as_its_role(comprehend):
    iam.clear_decisions()
    assert identify(document_state(GERMAN + "\n")) == {
        "code": "de", "score": 0.9912, "source": "comprehend", "warnings": []}
    assert comprehend.texts == [GERMAN]
    made = {(d.request.action, d.request.resource, d.principal.rsplit("/", 1)[-1]) for d in iam.decisions()}
    assert ("comprehend:DetectDominantLanguage", "*", "IdentifyLanguageRole") in made
    assert ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/{TEXT_KEY}", "IdentifyLanguageRole") in made


def test_a_long_text_sends_100_kb(comprehend):
    identify(document_state("Sprache " * 20_000))  # 160,000 bytes
    assert len(comprehend.texts[0].encode("utf-8")) <= 100_000 and comprehend.texts[0].startswith("Sprache Sprache")


def test_an_image_without_text_gets_a_warning_and_no_call(comprehend):
    result = identify(document_state(""))
    assert (result["code"], result["source"]) == (None, None)
    assert [w["code"] for w in result["warnings"]] == ["LANGUAGE_NOT_IDENTIFIED"]
    assert comprehend.texts == []


def test_audio_keeps_transcribes_language_without_calling_comprehend(comprehend):
    steps = {"transcription": [{"job_name": f"media-{MEDIA_ID}-0", "transcript_key": f"results/{MEDIA_ID}/transcribe-0.json",
                                "language": "en-US", "language_score": 0.9647, "warnings": []}],
             "transcript": {"text_key": f"results/{MEDIA_ID}/transcript.txt", "language": "en-US", "words": 9,
                            "segments_key": f"results/{MEDIA_ID}/segments.json",
                            "vtt_key": f"results/{MEDIA_ID}/captions.vtt", "srt_key": f"results/{MEDIA_ID}/captions.srt",
                            "transcribe_keys": [f"results/{MEDIA_ID}/transcribe-0.json"], "duration_seconds": 3.2,
                            "warnings": []}}
    assert identify(state(steps, "audio")) == {"code": "en-US", "score": 0.9647, "source": "transcribe", "warnings": []}
    assert comprehend.texts == []


def test_turned_off_by_the_deployment(comprehend, monkeypatch):
    from media_pipeline import settings

    monkeypatch.setenv("LANGUAGE_IDENTIFICATION", "disabled")
    settings.settings.cache_clear()
    assert identify(document_state(GERMAN))["disabled"] is True
    assert comprehend.texts == []


def test_without_the_grant_the_call_is_denied(aws, expected_denials):
    """The role from the template is what allows the call: another function's role may not make it."""
    from botocore.exceptions import ClientError

    from media_pipeline import language

    moto_gaps.install_ai_engines(comprehend_language=StandIn())
    try:
        with iam.acting_as(next(d for d in _roles() if d.endswith("/EnrichRole"))):
            with pytest.raises(ClientError) as denied:
                language.client("comprehend").detect_dominant_language(Text=GERMAN)
    finally:
        moto_gaps.uninstall()
    assert "not authorized to perform: comprehend:DetectDominantLanguage" in str(denied.value)


def _roles() -> list[str]:
    from media_pipeline.local import deployment
    from media_pipeline.local.account import binding

    snapshot = deployment.load()
    bound = binding(snapshot, bucket=BUCKET, table="t")
    return [bound.arn(spec["role"]) for spec in snapshot["functions"].values()]
