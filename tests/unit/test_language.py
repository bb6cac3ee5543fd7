"""media_pipeline.language: what is sent to Comprehend, and the language of an item from its steps."""
from __future__ import annotations

from typing import Any

import pytest

from media_pipeline import language
from media_pipeline.contract import Steps
from media_pipeline.errors import PipelineError, ThrottledError, TransientError


def test_text_within_the_limit_is_sent_whole():
    text = "ü" * (language.MAX_TEXT_BYTES // 2)  # exactly the limit: 2 bytes each
    assert language.truncate_utf8(text) == text


@pytest.mark.parametrize("char", ["a", "é", "€", "😀"])  # 1, 2, 3 and 4 bytes in UTF-8
def test_longer_text_is_cut_at_100_kb_on_a_character_boundary(char):
    text = "x" + char * language.MAX_TEXT_BYTES
    cut = language.truncate_utf8(text)
    size = len(cut.encode("utf-8"))
    assert size <= language.MAX_TEXT_BYTES == 100_000
    assert size > language.MAX_TEXT_BYTES - len(char.encode("utf-8"))  # nothing more would fit
    assert text.startswith(cut) and cut[1:] == char * (len(cut) - 1)  # whole characters only


def test_a_cut_in_the_middle_of_a_character_drops_that_character():
    assert language.cut_utf8("aé".encode("utf-8"), 2) == "a"
    assert language.cut_utf8("a😀".encode("utf-8"), 4) == "a"
    assert language.cut_utf8("a😀".encode("utf-8"), 5) == "a😀"


class FakeComprehend:
    def __init__(self, reply: dict[str, Any] | Exception):
        self.reply = reply
        self.texts: list[str] = []

    def detect_dominant_language(self, Text: str) -> dict[str, Any]:
        self.texts.append(Text)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


@pytest.fixture
def comprehend(monkeypatch: pytest.MonkeyPatch):
    def install(reply: dict[str, Any] | Exception) -> FakeComprehend:
        fake = FakeComprehend(reply)
        monkeypatch.setattr(language, "client", lambda name: fake if name == "comprehend" else None)
        return fake
    return install


def typed(steps: dict) -> Steps:
    """A `$.steps` as the pipeline writes it: the keys these tests leave out are filled in."""
    full = dict(steps)
    if "document_text" in full:
        full["document_text"] = {"pages_key": "results/m/pages.json", "blocks_key": None, "page_count": 1,
                                 "page_sources": {"text_layer": [], "textract": [1]}, **full["document_text"]}
    if "transcript" in full:
        full["transcript"] = {"text_key": "results/m/transcript.txt", "segments_key": "results/m/segments.json",
                              "vtt_key": "results/m/captions.vtt", "srt_key": "results/m/captions.srt",
                              "transcribe_keys": [], "duration_seconds": 1.0, **full["transcript"]}
    full["transcription"] = [{"transcript_key": None, **job} for job in full.get("transcription", [])] or None
    full.pop("document", None)
    return Steps.from_state({k: v for k, v in full.items() if v is not None})


def client_error(code: str, status: int = 400) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "said the service"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DetectDominantLanguage")


def test_a_document_gets_comprehends_best_language(comprehend):
    fake = comprehend({"Languages": [{"LanguageCode": "en", "Score": 0.12},
                                     {"LanguageCode": "de", "Score": 0.87654321}]})
    steps = {"document": {"mode": "text_layer"}, "document_text": {"text_key": "results/m/text.txt"}}
    found = language.identify(typed(steps), {"results/m/text.txt": "  Guten Morgen, wie geht es Ihnen?\n"}.__getitem__)
    assert found == {"code": "de", "score": 0.8765, "source": "comprehend", "warnings": []}
    assert fake.texts == ["Guten Morgen, wie geht es Ihnen?"]


def test_comprehend_gets_the_first_5_kb_cut_at_a_character_boundary(comprehend):
    fake = comprehend({"Languages": [{"LanguageCode": "fr", "Score": 0.99}]})
    assert language.detect("é" * 80_000)["code"] == "fr"  # 160,000 bytes, no word boundary
    assert len(fake.texts[0].encode("utf-8")) == 5_000 and fake.texts[0] == "é" * 2_500


def test_the_sample_ends_at_a_word_boundary_and_a_short_text_is_sent_whole():
    words = " ".join(["Sprache"] * 2_000)  # 15,999 bytes
    sent = language.sample(words)
    assert len(sent.encode("utf-8")) <= language.SAMPLE_BYTES and sent.split() == ["Sprache"] * len(sent.split())
    assert len(sent.encode("utf-8")) > language.SAMPLE_BYTES - 10  # the last whole word before the cut
    assert language.sample("  Guten Morgen.\n") == "Guten Morgen."


@pytest.mark.parametrize("steps", [
    {"document_text": {"text_key": "results/m/text.txt"}},  # an image without text: text.txt is empty
    {},  # no text at all
])
def test_no_text_is_a_warning_without_a_call(comprehend, steps):
    fake = comprehend({"Languages": [{"LanguageCode": "en", "Score": 1.0}]})
    found = language.identify(typed(steps), lambda key: " \n\n ")
    assert found["code"] is None and found["score"] is None and found["source"] is None
    assert [w["code"] for w in found["warnings"]] == ["LANGUAGE_NOT_IDENTIFIED"]
    assert fake.texts == []


def test_audio_takes_transcribes_language_and_score_without_comprehend(comprehend):
    fake = comprehend(RuntimeError("Comprehend must not be called for audio"))
    steps = {"transcription": [{"job_name": "a", "language": "en-US", "language_score": 0.9},
                               {"job_name": "b", "language": "en-US", "language_score": 0.7},
                               {"job_name": "c", "language": "de-DE", "language_score": 0.99}],
             "transcript": {"text_key": "results/m/transcript.txt", "language": "en-US", "words": 12}}
    assert language.identify(typed(steps), lambda key: "unused") == {
        "code": "en-US", "score": 0.8, "source": "transcribe", "warnings": []}
    assert fake.texts == []


def test_a_language_transcribe_was_told_has_no_score():
    steps = {"transcription": [{"job_name": "a", "language": "en-US"}],
             "transcript": {"language": "en-US", "words": 3}}
    assert language.identify(typed(steps), lambda key: "") == {
        "code": "en-US", "score": None, "source": "transcribe", "warnings": []}


@pytest.mark.parametrize("transcript", [{"language": "en-US", "words": 0}, {"language": None, "words": 4}])
def test_an_empty_transcript_gets_no_language_and_a_warning(transcript):
    found = language.identify(typed({"transcription": [], "transcript": transcript}), lambda key: "")
    assert found["code"] is None and found["source"] is None
    assert [w["code"] for w in found["warnings"]] == ["LANGUAGE_NOT_IDENTIFIED"]


def test_text_comprehend_refuses_is_a_warning(comprehend):
    comprehend(client_error("TextSizeLimitExceededException"))
    found = language.detect("some text")
    assert found["code"] is None
    [warning] = found["warnings"]
    assert warning["code"] == "LANGUAGE_NOT_IDENTIFIED" and "TextSizeLimitExceededException" in warning["message"]


def test_comprehend_finding_nothing_is_a_warning(comprehend):
    comprehend({"Languages": []})
    assert language.detect("1234 5678")["warnings"][0]["code"] == "LANGUAGE_NOT_IDENTIFIED"


@pytest.mark.parametrize("code, status, kind, reason", [
    ("ThrottlingException", 400, ThrottledError, "COMPREHEND_THROTTLED"),
    ("InternalServerException", 500, TransientError, "COMPREHEND_UNAVAILABLE"),
    ("AccessDeniedException", 400, PipelineError, "COMPREHEND_ACCESS_DENIED"),
])
def test_failed_calls_are_typed_for_retry_or_the_catch(comprehend, code, status, kind, reason):
    comprehend(client_error(code, status))
    with pytest.raises(kind) as raised:
        language.detect("some text")
    assert raised.value.code == reason


def test_turned_off():
    assert language.disabled() == {"code": None, "score": None, "source": None, "warnings": [], "disabled": True}
