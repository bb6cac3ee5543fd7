"""One emulated account per test file running the real ASL, with deterministic stand-in engines:
Transcribe answers with a Transcribe-format fixture, Textract with real-shaped blocks for known
documents, Bedrock with fixed JSON. Each test installs fresh stand-ins and asserts exact content."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from media_pipeline.local import iam, moto_gaps
from media_pipeline.local.runtime import LocalPipeline
from tests.document_factory import textract_blocks

DATA = Path(__file__).parent.parent / "data"
TRANSCRIPT = "Welcome to the media pipeline. Uploads become transcripts, captions and summaries."


class StandIns:
    def __init__(self):
        self.transcribe_calls = 0
        self.bedrock_calls = 0
        self.textract_calls = 0
        self.transcribe_failure: str | None = None
        self.silence = False
        self.bedrock_prompts: list[str] = []
        self.bedrock_reply = json.dumps({"title": "Media pipeline welcome", "summary": "Uploads become transcripts.",
                                         "keywords": ["media pipeline", "transcripts"]})
        self.documents: dict[int, dict[int, list[str]]] = {}  # page count of what Textract gets -> lines per page
        self.comprehend_texts: list[str] = []

    def transcribe(self, audio: bytes, language: str | None) -> dict[str, Any]:
        self.transcribe_calls += 1
        if self.transcribe_failure:
            raise RuntimeError(self.transcribe_failure)
        document = json.loads((DATA / "transcribe-two-sentences.json").read_text())
        if self.silence:
            document["results"].update(transcripts=[{"transcript": ""}], items=[], audio_segments=[])
        return document

    def textract(self, document: bytes) -> list[dict[str, Any]]:
        self.textract_calls += 1
        pages = 1
        if document[:5] == b"%PDF-":
            from media_pipeline.pdf_text_layer import open_pdf  # PDFium is not thread-safe: its lock

            with open_pdf(document) as pdf:
                pages = len(pdf)
        return textract_blocks(self.documents[pages])

    def comprehend_language(self, text: str) -> dict[str, Any]:
        """DetectDominantLanguage by a fixed rule: German if the text has German function words, else English."""
        self.comprehend_texts.append(text)
        german = {"der", "die", "das", "und", "ist", "nicht"} & set(text.lower().split())
        best, other = ("de", "en") if german else ("en", "de")
        return {"Languages": [{"LanguageCode": best, "Score": 0.98}, {"LanguageCode": other, "Score": 0.01}]}

    def bedrock(self, messages: list, system: list, config: dict) -> str:
        self.bedrock_calls += 1
        self.bedrock_prompts.append(messages[0]["content"][0]["text"])
        return self.bedrock_reply


@pytest.fixture(scope="module")
def pipeline():
    """Module scope: the emulator patches moto and the process environment while it runs, so it must be
    gone before another test file's moto fixtures start (make test uses xdist's --dist loadfile)."""
    with LocalPipeline(mode="mock", engines=False) as running:
        yield running


@pytest.fixture(autouse=True)
def no_access_denied(request):
    """Every call made as a role is authorized against the template's policies: a denial fails the test that made
    it, with the call named (tests that provoke denials on purpose take `expected_denials`)."""
    iam.clear_decisions()
    yield
    if "expected_denials" not in request.fixturenames:
        denied = [iam.explain(d) for d in iam.denials()]
        assert not denied, "calls the template's policies do not allow:\n" + "\n".join(denied)


@pytest.fixture
def expected_denials():
    """The denials a test provokes on purpose; it asserts on them itself (the IAM report sets them apart)."""
    with iam.denials_expected():
        yield


@pytest.fixture
def engines(pipeline) -> StandIns:
    fakes = StandIns()
    moto_gaps.install_ai_engines(transcribe=fakes.transcribe, textract=fakes.textract, bedrock=fakes.bedrock,
                                 comprehend_language=fakes.comprehend_language)
    return fakes


def largest_payload(history: list[dict[str, Any]]) -> int:
    """The largest state input or output of an execution, in bytes (Step Functions' limit is 256 KB)."""
    sizes = [len(details.get("input") or details.get("output") or "")
             for event in history for key, details in event.items()
             if key in ("stateEnteredEventDetails", "stateExitedEventDetails")]
    return max(sizes)
