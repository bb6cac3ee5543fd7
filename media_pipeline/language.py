"""The item's language, as plain logic (the identify_language step calls it).

- Documents and images: Amazon Comprehend's DetectDominantLanguage on the beginning of the item's text: its first
  `SAMPLE_BYTES` of UTF-8 (5 KB, cut at a word boundary), which identify a language as well as the whole text does
  and cost a twentieth of Comprehend's 100 KB limit (`MAX_TEXT_BYTES`) for a long document (docs/cost.md).
- Audio and video: the language Amazon Transcribe identified (`$.steps.transcript.language`), with the score
  Transcribe gave it (`IdentifiedLanguageScore`, carried by each job of `$.steps.transcription`); Comprehend is
  not called.

The result is small data only, stored at `$.steps.language`:
`{"code": "en" | None, "score": 0.99 | None, "source": "comprehend" | "transcribe" | None, "warnings": [...]}`,
plus `"disabled": true` when the deployment turned the step off. Codes are the reporting service's own:
Comprehend's (`en`, `de`, `zh`, `zh-TW`) or Transcribe's (`en-US`). An item without text gets no language and the
warning `LANGUAGE_NOT_IDENTIFIED`, never a failure.
"""
from __future__ import annotations

import codecs
from typing import Any, Callable, Sequence

from media_pipeline.aws import client
from media_pipeline.contract import Steps, TranscriptionJob, TranscriptResult
from media_pipeline.errors import AwsService, aws_error, error_parts

# Comprehend's limit for DetectDominantLanguage is "100 KB" of UTF-8; 100,000 bytes is within it however KB is read.
MAX_TEXT_BYTES = 100_000
# What is sent: a few thousand characters are plenty for the language (Comprehend bills per 100 characters).
SAMPLE_BYTES = 5_000
COMPREHEND_SOURCE = "comprehend"
TRANSCRIBE_SOURCE = "transcribe"
NOT_IDENTIFIED = "LANGUAGE_NOT_IDENTIFIED"
# Comprehend refusing the text itself: the item gets a warning, not a failure.
COMPREHEND_REFUSALS = frozenset({"InvalidRequestException", "TextSizeLimitExceededException",
                                 "UnsupportedLanguageException"})
COMPREHEND = AwsService("COMPREHEND", "Comprehend ", rejecting=COMPREHEND_REFUSALS)

Warning = dict[str, str]


def cut_utf8(data: bytes, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """The longest prefix of UTF-8 `data` that fits in `max_bytes` and ends on a character boundary."""
    # With final=False the incremental decoder keeps an incomplete trailing character back instead of failing.
    return codecs.getincrementaldecoder("utf-8")().decode(data[:max_bytes], final=False)


def truncate_utf8(text: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """`text` itself when its UTF-8 fits in `max_bytes`, else its longest prefix that does (whole characters)."""
    encoded = text.encode("utf-8")
    return text if len(encoded) <= max_bytes else cut_utf8(encoded, max_bytes)


def sample(text: str, max_bytes: int | None = None) -> str:
    """The beginning of `text` DetectDominantLanguage is sent: at most `max_bytes` of UTF-8, ending at a whitespace
    when one is near the cut (a word cut in two is noise), else at a character boundary."""
    text = text.strip()
    cut = truncate_utf8(text, max_bytes or SAMPLE_BYTES)
    if len(cut) == len(text):
        return cut
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return cut[:space].rstrip() if space >= len(cut) - 200 and space > 0 else cut


def result(code: str | None, score: float | None, source: str | None,
           warnings: Sequence[Warning] = ()) -> dict[str, Any]:
    return {"code": code, "score": None if score is None else round(float(score), 4), "source": source,
            "warnings": list(warnings)}


def not_identified(message: str) -> dict[str, Any]:
    return result(None, None, None, [{"code": NOT_IDENTIFIED, "message": message}])


def disabled() -> dict[str, Any]:
    """The deployment turned language identification off (`language_identification` in cdk.json)."""
    return {**result(None, None, None), "disabled": True}


def detect(text: str) -> dict[str, Any]:
    """Comprehend's dominant language of `text` (its first SAMPLE_BYTES: `sample`)."""
    from botocore.exceptions import BotoCoreError, ClientError

    text = text.strip()
    if not text:
        return not_identified("the item has no text to identify the language of")
    try:
        response = client("comprehend").detect_dominant_language(Text=sample(text))
    except ClientError as exc:
        code, message, _ = error_parts(exc)
        if code in COMPREHEND_REFUSALS:
            return not_identified(f"Comprehend DetectDominantLanguage: {code}: {message}")
        raise aws_error(exc, COMPREHEND, "DetectDominantLanguage") from exc
    except BotoCoreError as exc:
        raise aws_error(exc, COMPREHEND, "DetectDominantLanguage") from exc
    languages = [lang for lang in response.get("Languages") or [] if lang.get("LanguageCode")]
    if not languages:
        return not_identified("Comprehend identified no language in the text")
    best = max(languages, key=lambda lang: float(lang.get("Score") or 0.0))
    return result(best["LanguageCode"], best.get("Score"), COMPREHEND_SOURCE)


def from_transcription(transcript: TranscriptResult, jobs: Sequence[TranscriptionJob]) -> dict[str, Any]:
    """What Transcribe identified: the transcript's language, scored by the mean `language_score` of the parts
    Transcribe gave that language (None when it did not identify it, e.g. a fixed `transcribe_language`)."""
    if transcript.words == 0:
        return not_identified("the transcript is empty: there is no speech to identify the language of")
    if not transcript.language:
        return not_identified("Transcribe reported no language for the transcript")
    scores = [float(job.language_score) for job in jobs
              if job.language == transcript.language and job.language_score is not None]
    return result(transcript.language, sum(scores) / len(scores) if scores else None, TRANSCRIBE_SOURCE)


def identify(steps: Steps, read_text: Callable[[str], str]) -> dict[str, Any]:
    """The language of an item from its steps' results (`$.steps`); `read_text(key)` reads a text in S3."""
    if steps.transcript is not None:
        return from_transcription(steps.transcript, steps.transcription or [])
    if steps.document_text is not None and steps.document_text.text_key:
        return detect(read_text(steps.document_text.text_key))
    return not_identified("the item has no text to identify the language of")
