"""Finalize: assemble manifest.json from the steps' results, record the status, announce the result.

The same function records failures (RecordFailure in the state machine) so a FAILED item still gets
a manifest with its reason and whatever its earlier steps produced.
"""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline.errors import error_from_state
from media_pipeline.manifest import new_manifest
from media_pipeline.observability import metrics, pipeline_handler
from media_pipeline.results import publish
from media_pipeline.settings import settings
from media_pipeline.storage import read_json, read_text, s3_uri


def gather_warnings(steps: dict[str, Any]) -> list[dict[str, str]]:
    warnings: list[dict[str, str]] = []
    for name, result in steps.items():
        for item in result if isinstance(result, list) else [result]:
            if not isinstance(item, dict):
                continue
            if "Error" in item and name == "enrichment":
                error = error_from_state(item.get("Error"), item.get("Cause"))
                warnings.append({"code": "ENRICHMENT_FAILED", "message": f"{error['code']}: {error['message']}"})
            for warning in item.get("warnings") or []:
                if warning not in warnings:
                    warnings.append({"code": warning["code"], "message": warning["message"]})
    return warnings


def usage_of(steps: dict[str, Any]) -> dict[str, Any]:
    """Billable units, from what the steps reported: Transcribe jobs and seconds, Textract pages, model tokens."""
    usage: dict[str, Any] = {}
    probe = steps.get("probe")
    if isinstance(probe, dict) and probe.get("duration_seconds") is not None:
        usage["media_seconds"] = probe["duration_seconds"]
    jobs = [j for j in steps.get("transcription") or [] if isinstance(j, dict)]
    if jobs:
        usage["transcribe_jobs"] = len(jobs)
    parts = ((steps.get("audio") or {}).get("parts")) or []
    if parts and all(p.get("duration_seconds") is not None for p in parts):
        usage["transcribe_seconds"] = round(sum(p["duration_seconds"] for p in parts), 3)
    sources = (steps.get("document_text") or {}).get("page_sources") if isinstance(steps.get("document_text"), dict) else None
    if sources:
        usage["textract_pages"] = len(sources.get("textract") or [])
        usage["text_layer_pages"] = len(sources.get("text_layer") or [])
    enrichment = steps.get("enrichment")
    if isinstance(enrichment, dict) and "model_calls" in enrichment:
        usage["model_calls"] = enrichment["model_calls"]
        usage["model_input_tokens"] = enrichment.get("input_tokens", 0)
        usage["model_output_tokens"] = enrichment.get("output_tokens", 0)
    return usage


def build_manifest(media: dict[str, Any], steps: dict[str, Any], error: dict[str, str] | None) -> dict[str, Any]:
    bucket = settings().media_bucket
    manifest = new_manifest(media, status="FAILED" if error else "SUCCEEDED", warnings=gather_warnings(steps), error=error)
    artifacts = manifest["artifacts"]

    def artifact(name: str, key: str | None) -> None:
        if key:
            artifacts[name] = s3_uri(bucket, key)

    transcript = steps.get("transcript")
    if isinstance(transcript, dict) and transcript.get("text_key"):
        manifest["transcript"] = {
            "text": read_text(bucket, transcript["text_key"]).strip(),
            "language": transcript.get("language"),
            "duration_seconds": transcript.get("duration_seconds"),
            "segments": read_json(bucket, transcript["segments_key"]),
        }
        for name, field in (("transcript_text", "text_key"), ("segments", "segments_key"),
                            ("captions_vtt", "vtt_key"), ("captions_srt", "srt_key")):
            artifact(name, transcript.get(field))
        for index, key in enumerate(transcript.get("transcribe_keys") or []):
            artifact(f"transcribe_json_{index}", key)

    document = steps.get("document_text")
    if isinstance(document, dict) and document.get("text_key"):
        pages = read_json(bucket, document["pages_key"]) if document.get("pages_key") else []
        manifest["text"] = {"content": read_text(bucket, document["text_key"]).strip(),
                            "pages": [{"page": p["page"], "text": p["text"], "source": p["source"]} for p in pages]}
        artifact("text", document.get("text_key"))
        artifact("pages", document.get("pages_key"))
        artifact("textract_blocks", document.get("blocks_key"))

    probe, video = steps.get("probe"), steps.get("video")
    if isinstance(probe, dict) and "route" in probe:
        section: dict[str, Any] = {"duration_seconds": probe.get("duration_seconds"), "has_audio": bool(probe.get("has_audio")),
                                   "route": probe["route"]}
        if isinstance(video, dict) and "thumbnail_keys" in video:
            section["thumbnails"] = [s3_uri(bucket, k) for k in video.get("thumbnail_keys") or []]
            section["poster"] = s3_uri(bucket, video["poster_key"]) if video.get("poster_key") else None
            artifact("poster", video.get("poster_key"))
            for index, key in enumerate(video.get("thumbnail_keys") or []):
                artifact(f"thumbnail_{index}", key)
            for index, part in enumerate(((video.get("audio") or {}).get("parts")) or []):
                artifact(f"audio_{index}", part.get("key"))
        manifest["video"] = section

    enrichment = steps.get("enrichment")
    if isinstance(enrichment, dict) and enrichment.get("enrichment_key"):
        document_ = read_json(bucket, enrichment["enrichment_key"])
        manifest["enrichment"] = {k: document_[k] for k in ("title", "summary", "keywords", "model", "model_calls",
                                                            "input_tokens", "output_tokens") if k in document_}
        artifact("enrichment", enrichment["enrichment_key"])
    usage = usage_of(steps)
    if usage:
        manifest["usage"] = usage
    return manifest


def finalize(event: dict[str, Any]) -> dict[str, Any]:
    error = None
    if event.get("failed"):
        caught = event.get("error") or {}
        error = error_from_state(caught.get("Error"), caught.get("Cause"))
    manifest = build_manifest(event["media"], event.get("steps") or {}, error)
    key = publish(manifest)
    metrics.add_metric(name="ItemsSucceeded" if not error else "ItemsFailed", unit=MetricUnit.Count, value=1)
    return {"status": manifest["status"], "manifest_key": key, "error_code": error["code"] if error else None}


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return finalize(event)
