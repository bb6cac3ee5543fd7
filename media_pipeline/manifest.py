"""The manifest: the contract users, the CLI and other steps rely on. Every one written is validated."""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any, Callable

from media_pipeline.contract import (CaughtError, DocumentText, EnrichmentResult, EnrichmentSkipped, LanguageResult,
                                     MediaItem, PiiResult,
                                     PipelineState, ProbeResult, StateObject, Steps, StepWarning, TranscriptResult,
                                     VideoResult)
from media_pipeline.errors import PipelineError, error_from_state

SCHEMA_VERSION = "1.0"
MANIFEST_NAME = "manifest.json"


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("media_pipeline").joinpath("schemas/manifest.schema.json").read_text("utf-8"))


@functools.lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile(schema())


class InvalidManifest(PipelineError):
    code = "INVALID_MANIFEST"


def validate(manifest: dict[str, Any]) -> dict[str, Any]:
    try:
        _validator()(manifest)
    except Exception as exc:  # fastjsonschema.JsonSchemaException
        raise InvalidManifest(f"manifest does not match its schema: {exc}") from exc
    return manifest


@dataclass(frozen=True)
class ResultFiles:
    """The files an item's steps wrote, by key: what the manifest's sections read (S3 in finalize, a stand-in in tests)."""

    bucket: str
    read_text: Callable[[str, str], str]  # (bucket, key) -> text, e.g. storage.read_text
    read_json: Callable[[str, str], Any]

    def text(self, key: str) -> str:
        return self.read_text(self.bucket, key)

    def json(self, key: str) -> Any:
        return self.read_json(self.bucket, key)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"


def source_of(media: MediaItem) -> dict[str, Any]:
    source: dict[str, Any] = {"uri": media.source or f"s3://{media.bucket}/{media.key}",
                              "bucket": media.bucket, "key": media.key}
    for field in ("version_id", "etag", "size", "detected_format"):
        if getattr(media, field) is not None:
            source[field] = getattr(media, field)
    return source


def new_manifest(media: MediaItem, *, status: str, warnings: list[StepWarning] | None = None,
                 error: dict[str, str] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "media_id": media.media_id,
        "source": source_of(media),
        "status": status,
        "media_type": media.media_type or "unknown",
        "warnings": list(warnings or []),
        "artifacts": {},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if error:
        manifest["error"] = {"code": error["code"], "message": error["message"]}
    return manifest


# ---- the sections, each from the typed results of the steps (media_pipeline.contract) ---------------------------

def error_section(state: PipelineState) -> dict[str, str] | None:
    """RecordFailure's reason as {code, message}; None for an item that succeeded."""
    if not state.failed:
        return None
    caught = state.error or CaughtError(error="UNKNOWN")
    return error_from_state(caught.error, caught.cause)


def _warnings_of(result: Any) -> list[StepWarning]:
    if isinstance(result, StateObject):
        return getattr(result, "warnings", None) or []
    return (result.get("warnings") or []) if isinstance(result, dict) else []  # a step this code does not know


# Optional steps whose failure their Catch keeps in the state: the item goes on, the manifest says so.
_OPTIONAL_STEP_FAILURES = {"enrichment": "ENRICHMENT_FAILED", "language": "LANGUAGE_IDENTIFICATION_FAILED"}


def warnings_section(steps: Steps) -> list[StepWarning]:
    """Every step's warnings, in execution order, each once; a failed enrichment (kept by its Catch) is one too."""
    warnings: list[StepWarning] = []
    for name, result in steps.results():
        if name in _OPTIONAL_STEP_FAILURES and isinstance(result, CaughtError):
            error = error_from_state(result.error, result.cause)
            warnings.append({"code": _OPTIONAL_STEP_FAILURES[name], "message": f"{error['code']}: {error['message']}"})
        for warning in _warnings_of(result):
            if warning not in warnings:
                warnings.append({"code": warning["code"], "message": warning["message"]})
    return warnings


def transcript_section(transcript: TranscriptResult | None, files: ResultFiles) -> dict[str, Any] | None:
    if transcript is None or not transcript.text_key:
        return None
    return {"text": files.text(transcript.text_key).strip(), "language": transcript.language,
            "duration_seconds": transcript.duration_seconds, "segments": files.json(transcript.segments_key)}


def text_section(document_text: DocumentText | None, files: ResultFiles) -> dict[str, Any] | None:
    if document_text is None or not document_text.text_key:
        return None
    pages = files.json(document_text.pages_key) if document_text.pages_key else []
    return {"content": files.text(document_text.text_key).strip(),
            "pages": [{"page": p["page"], "text": p["text"], "source": p["source"]} for p in pages]}


def video_section(probe: ProbeResult | None, video: VideoResult | None, files: ResultFiles) -> dict[str, Any] | None:
    if probe is None:
        return None
    section: dict[str, Any] = {"duration_seconds": probe.duration_seconds, "has_audio": bool(probe.has_audio),
                               "route": probe.route}
    if video is not None:
        section["thumbnails"] = [files.uri(key) for key in video.thumbnail_keys or []]
        section["poster"] = files.uri(video.poster_key) if video.poster_key else None
    return section


def language_section(language: Any) -> dict[str, Any] | None:
    """The item's language (code, score, which service said so); None when the step did not run or failed."""
    if not isinstance(language, LanguageResult) or language.disabled:
        return None
    return {"code": language.code, "score": language.score, "source": language.source}


def pii_section(pii: PiiResult | None, files: ResultFiles) -> dict[str, Any] | None:
    """What PII redaction did; None when the step did not run or the deployment turned it off."""
    if pii is None or pii.disabled:
        return None
    return {"redacted": pii.redacted, "source": pii.source, "entity_counts": dict(pii.entity_counts),
            "redacted_text": files.uri(pii.redacted_text_key) if pii.redacted_text_key else None,
            "entities": files.uri(pii.entities_key) if pii.entities_key else None,
            "unredacted_kept": pii.unredacted_kept}


def _mark_redacted(sections: dict[str, Any], pii: PiiResult | None) -> None:
    """The transcript Transcribe redacted says so; so does a document text whose unredacted text is gone."""
    if pii is None or not pii.redacted:
        return
    if pii.source == "transcribe" and sections.get("transcript") is not None:
        sections["transcript"]["redacted"] = True
    if pii.source == "comprehend" and not pii.unredacted_kept and sections.get("text") is not None:
        sections["text"]["redacted"] = True


ENRICHMENT_FIELDS = ("title", "summary", "keywords", "model", "model_calls", "input_tokens", "output_tokens")


def enrichment_section(enrichment: Any, files: ResultFiles) -> dict[str, Any] | None:
    if not isinstance(enrichment, EnrichmentResult) or not enrichment.enrichment_key:
        return None
    document = files.json(enrichment.enrichment_key)
    return {name: document[name] for name in ENRICHMENT_FIELDS if name in document}


def _transcription_usage(steps: Steps) -> dict[str, Any]:
    usage: dict[str, Any] = {}
    if steps.transcription:
        usage["transcribe_jobs"] = len(steps.transcription)
    parts = steps.audio.parts if steps.audio else []
    if parts and all(part.duration_seconds is not None for part in parts):
        usage["transcribe_seconds"] = round(sum(part.duration_seconds or 0 for part in parts), 3)
    return usage


def _model_usage(enrichment: Any) -> dict[str, Any]:
    if not isinstance(enrichment, (EnrichmentResult, EnrichmentSkipped)):
        return {}
    return {"model_calls": enrichment.model_calls, "model_input_tokens": getattr(enrichment, "input_tokens", 0),
            "model_output_tokens": getattr(enrichment, "output_tokens", 0)}


def usage_section(steps: Steps) -> dict[str, Any]:
    """Billable units, from what the steps reported: Transcribe jobs and seconds, Textract pages, model tokens."""
    usage: dict[str, Any] = {}
    if steps.probe and steps.probe.duration_seconds is not None:
        usage["media_seconds"] = steps.probe.duration_seconds
    usage.update(_transcription_usage(steps))
    if steps.document_text:
        sources = steps.document_text.page_sources
        usage["textract_pages"] = len(sources.textract or [])
        usage["text_layer_pages"] = len(sources.text_layer or [])
    usage.update(_model_usage(steps.enrichment))
    return usage


def _transcript_files(transcript: TranscriptResult | None) -> list[tuple[str, str | None]]:
    if transcript is None or not transcript.text_key:
        return []
    return [("transcript_text", transcript.text_key), ("segments", transcript.segments_key),
            ("captions_vtt", transcript.vtt_key), ("captions_srt", transcript.srt_key),
            *((f"transcribe_json_{i}", key) for i, key in enumerate(transcript.transcribe_keys or []))]


def _text_files(document_text: DocumentText | None) -> list[tuple[str, str | None]]:
    if document_text is None or not document_text.text_key:
        return []
    return [("text", document_text.text_key), ("pages", document_text.pages_key),
            ("textract_blocks", document_text.blocks_key)]


def _video_files(probe: ProbeResult | None, video: VideoResult | None) -> list[tuple[str, str | None]]:
    if probe is None or video is None:
        return []
    return [("poster", video.poster_key),
            *((f"thumbnail_{i}", key) for i, key in enumerate(video.thumbnail_keys or [])),
            *((f"audio_{i}", part.key) for i, part in enumerate(video.audio_parts))]


def artifacts_section(steps: Steps, files: ResultFiles) -> dict[str, str]:
    """name -> s3 URI of each result file the steps wrote (publishing adds the manifest's own)."""
    named = [*_transcript_files(steps.transcript), *_text_files(steps.document_text),
             *_video_files(steps.probe, steps.video)]
    if steps.pii is not None and not steps.pii.disabled:
        named += [("pii_redacted_text", steps.pii.redacted_text_key), ("pii_entities", steps.pii.entities_key)]
    if isinstance(steps.enrichment, EnrichmentResult):
        named.append(("enrichment", steps.enrichment.enrichment_key))
    return {name: files.uri(key) for name, key in named if key}


def build_manifest(state: PipelineState, files: ResultFiles,
                   warnings: list[StepWarning] | None = None) -> dict[str, Any]:
    """The manifest of a finished item (Finalize) or a failed one (RecordFailure), from the typed state.

    `warnings` are added after the steps' own (finalize's, about the state itself).
    """
    steps, error = state.steps, error_section(state)
    audio = state.media.media_type == "audio"
    found = [*warnings_section(steps), *(warnings or [])]
    if audio:  # an audio file split by the media worker: having no pictures is what it is, not worth a warning
        found = [w for w in found if w.get("code") != "NO_VIDEO_TRACK"]
    manifest = new_manifest(state.media, status="FAILED" if error else "SUCCEEDED", warnings=found, error=error)
    sections = {"transcript": transcript_section(steps.transcript, files),
                "text": text_section(steps.document_text, files),
                "video": None if audio else video_section(steps.probe, steps.video, files),
                "language": language_section(steps.language),
                "pii": pii_section(steps.pii, files),
                "enrichment": enrichment_section(steps.enrichment, files)}
    if error and error["code"] == "PII_REDACTION_FAILED":
        # Redaction was required and failed: the manifest does not carry the text it could not redact.
        sections["transcript"] = sections["text"] = None
    _mark_redacted(sections, steps.pii)
    manifest.update((name, section) for name, section in sections.items() if section is not None)
    usage = usage_section(steps)
    if usage:
        manifest["usage"] = usage
    manifest["artifacts"] = artifacts_section(steps, files)
    return manifest
