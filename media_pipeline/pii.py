"""PII redaction, as plain logic (the redact_pii step calls it).

- Documents and images: Amazon Comprehend's DetectPiiEntities on the item's text, sent in chunks of at most
  `MAX_TEXT_BYTES` of UTF-8 (Comprehend's limit for that API is 100 KB), cut at whitespace where there is some (else
  at a character boundary); each chunk's entity offsets are shifted back to the whole text. Each entity is replaced
  by `[TYPE]` (e.g. `[EMAIL]`; overlapping entities become one replacement) and written to
  `results/<media_id>/text.redacted.txt`, the entities (type, begin/end offsets in the whole text, score) to
  `results/<media_id>/pii-entities.json`. Without `keep_unredacted`, the item's `text.txt` and `pages.json` are
  overwritten with their redacted text and the Textract blocks (which hold the text word by word) with `[]`.
- Audio and video: Amazon Transcribe already redacted the transcript (start_transcription asked for
  `ContentRedaction`: PII becomes `[PII]`); the entities are counted from the redacted items of Transcribe's JSON.
  Comprehend is not called.

The result is small data only, stored at `$.steps.pii` (a `PiiResult`): keys and counts, never the entities or text.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

from media_pipeline.aws import client
from media_pipeline.contract import DocumentText, LanguageResult, PiiResult, Steps, TranscriptResult
from media_pipeline.errors import (AwsService, MediaRejected, PipelineError, ThrottledError, TransientError,
                                   aws_error)

# Comprehend's limit for DetectPiiEntities is 100 KB of UTF-8; 100,000 bytes is within it however KB is read.
MAX_TEXT_BYTES = 100_000
COMPREHEND_SOURCE = "comprehend"
TRANSCRIBE_SOURCE = "transcribe"
FAILED = "PII_REDACTION_FAILED"
COMPREHEND_PII_LANGUAGES = ("en", "es")  # the languages DetectPiiEntities accepts
TRANSCRIBE_PLACEHOLDER = "[PII]"
COMPREHEND = AwsService("COMPREHEND", "Comprehend ")
REDACTED_TEXT_NAME = "text.redacted.txt"
ENTITIES_NAME = "pii-entities.json"

Entity = dict[str, Any]  # {"type", "begin", "end", "score"}, offsets in characters of the whole text


# ---- chunks and offsets ---------------------------------------------------------------------------------------------

def chunks(text: str, max_bytes: int = MAX_TEXT_BYTES) -> list[tuple[int, str]]:
    """`text` as (character offset, chunk) pieces of at most `max_bytes` of UTF-8 each, together the whole text.
    A piece ends after the last whitespace that fits; a text without whitespace is cut between characters."""
    pieces: list[tuple[int, str]] = []
    start = 0
    while start < len(text):
        end, size, last_space = start, 0, -1
        while end < len(text):
            width = len(text[end].encode("utf-8"))
            if size + width > max_bytes:
                break
            size += width
            if text[end].isspace():
                last_space = end
            end += 1
        if end < len(text) and last_space >= start:
            end = last_space + 1  # the whitespace stays with this piece; no word is split
        pieces.append((start, text[start:end]))
        start = end
    return pieces


def detect_entities(text: str, language_code: str = "en",
                    detect: Callable[[str, str], Sequence[Mapping[str, Any]]] | None = None,
                    max_bytes: int = MAX_TEXT_BYTES) -> list[Entity]:
    """The PII entities of the whole `text`, found chunk by chunk, with offsets in `text`, in text order."""
    detect = detect or comprehend_entities
    found: list[Entity] = []
    for offset, piece in chunks(text, max_bytes):
        if not piece.strip():
            continue  # Comprehend refuses blank text
        for entity in detect(piece, language_code):
            found.append({"type": str(entity["Type"]), "begin": offset + int(entity["BeginOffset"]),
                          "end": offset + int(entity["EndOffset"]), "score": round(float(entity.get("Score") or 0), 4)})
    return sorted(found, key=lambda e: (e["begin"], e["end"]))


def comprehend_entities(text: str, language_code: str) -> list[Mapping[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return client("comprehend").detect_pii_entities(Text=text, LanguageCode=language_code).get("Entities") or []
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, COMPREHEND, "DetectPiiEntities") from exc


def redact(text: str, entities: Sequence[Entity]) -> str:
    """`text` with each entity replaced by `[TYPE]`. Overlapping entities are one replacement, named by the entity
    that starts first (the longer one when two start together)."""
    spans: list[list[Any]] = []  # [begin, end, type]
    for entity in sorted(entities, key=lambda e: (e["begin"], -e["end"])):
        if spans and entity["begin"] < spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], entity["end"])
        else:
            spans.append([entity["begin"], entity["end"], entity["type"]])
    out, cursor = [], 0
    for begin, end, kind in spans:
        out += [text[cursor:begin], f"[{kind}]"]
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def counts(types: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for kind in types:
        found[kind] = found.get(kind, 0) + 1
    return dict(sorted(found.items()))


# ---- the step ---------------------------------------------------------------------------------------------------------

def disabled() -> PiiResult:
    """The deployment turned PII redaction off (`pii_redaction` in cdk.json)."""
    return PiiResult(redacted=False, source=None, entity_counts={}, redacted_text_key=None, entities_key=None,
                     unredacted_kept=True, disabled=True, warnings=[])


def language_for(language: Any) -> str:
    code = (language.code or "").split("-")[0] if isinstance(language, LanguageResult) else ""
    return code if code in COMPREHEND_PII_LANGUAGES else "en"


class Files:
    """The results bucket, as the step reads and writes it (storage functions in AWS, stand-ins in tests)."""

    def __init__(self, read_text: Callable[[str], str], read_json: Callable[[str], Any],
                 write_text: Callable[[str, str], str], write_json: Callable[[str, Any], str]):
        self.read_text, self.read_json, self.write_text, self.write_json = read_text, read_json, write_text, write_json


def redacted_pages(text: str, entities: Sequence[Entity], pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pages.json with each page's text redacted: a page's text is found in the whole text (pages are joined in
    order), and the entities inside it are shifted to the page; a page not found loses its text."""
    out, cursor = [], 0
    for page in pages:
        page_text = str(page.get("text") or "")
        at = text.find(page_text, cursor) if page_text else -1
        if at < 0:
            out.append({**page, "text": "" if page_text else page_text})
            continue
        inside = [{**e, "begin": e["begin"] - at, "end": e["end"] - at} for e in entities
                  if e["begin"] < at + len(page_text) and e["end"] > at]
        for e in inside:
            e["begin"], e["end"] = max(e["begin"], 0), min(e["end"], len(page_text))
        out.append({**page, "text": redact(page_text, inside)})
        cursor = at + len(page_text)
    return out


def redact_document(media_id: str, document: DocumentText, language_code: str, keep_unredacted: bool,
                    files: Files, results_key: Callable[[str, str], str]) -> PiiResult:
    text = files.read_text(document.text_key)
    entities = detect_entities(text, language_code) if text.strip() else []
    redacted = redact(text, entities)
    redacted_key = files.write_text(results_key(media_id, REDACTED_TEXT_NAME), redacted)
    entities_key = files.write_json(results_key(media_id, ENTITIES_NAME), entities)
    if not keep_unredacted:
        files.write_json(document.pages_key, redacted_pages(text, entities, files.read_json(document.pages_key)))
        if document.blocks_key:
            files.write_json(document.blocks_key, [])
        files.write_text(document.text_key, redacted)
    return PiiResult(redacted=True, source=COMPREHEND_SOURCE, entity_counts=counts([e["type"] for e in entities]),
                     redacted_text_key=redacted_key, entities_key=entities_key, unredacted_kept=keep_unredacted,
                     warnings=[])


def transcribe_redactions(document: Mapping[str, Any]) -> list[str]:
    """The type of each redacted item of a Transcribe JSON (`redactions[].type`; `PII` when it names no type)."""
    types = []
    for item in (document.get("results") or {}).get("items") or []:
        for alternative in (item.get("alternatives") or [])[:1]:
            for redaction in alternative.get("redactions") or []:
                types.append(str(redaction.get("type") or "PII"))
    return types


def from_transcript(transcript: TranscriptResult, keep_unredacted: bool, files: Files) -> PiiResult:
    types = [kind for key in transcript.transcribe_keys for kind in transcribe_redactions(files.read_json(key))]
    return PiiResult(redacted=True, source=TRANSCRIBE_SOURCE, entity_counts=counts(types),
                     redacted_text_key=transcript.text_key, entities_key=None, unredacted_kept=keep_unredacted,
                     warnings=[])


def redact_item(media_id: str, steps: Steps, keep_unredacted: bool, files: Files,
                results_key: Callable[[str, str], str]) -> PiiResult:
    """The item's PII: Transcribe's redaction for audio and video, Comprehend for a document's or image's text."""
    if steps.transcript is not None:
        return from_transcript(steps.transcript, keep_unredacted, files)
    if steps.document_text is not None:
        return redact_document(media_id, steps.document_text, language_for(steps.language), keep_unredacted, files,
                               results_key)
    return PiiResult(redacted=True, source=None, entity_counts={}, redacted_text_key=None, entities_key=None,
                     unredacted_kept=keep_unredacted, warnings=[])


def as_redaction_failure(exc: BaseException) -> PipelineError:
    """Any failure of the step as PII_REDACTION_FAILED (the message starts with the underlying code), keeping its
    class so the state machine's Retry still tells throttling and passing faults from the rest."""
    if isinstance(exc, PipelineError):
        if exc.code == FAILED:
            return exc
        kind = type(exc) if isinstance(exc, (ThrottledError, TransientError, MediaRejected)) else PipelineError
        return kind(f"{exc.code}: {exc.reason}", code=FAILED, details=exc.details or None)
    return PipelineError(f"{type(exc).__name__}: {exc}", code=FAILED)

