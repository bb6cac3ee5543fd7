"""Collect a document's text: every page of an asynchronous Textract job's results, merged with the text-layer pages.

For the text_layer and sync routes, analyze_document already wrote the text: its keys are passed through.
"""
from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import documents
from media_pipeline.aws import client
from media_pipeline.contract import (DocumentAnalysis, DocumentNeedsOcr, DocumentText, MediaItem, OcrResult, PageSources,
                                     PipelineState, require)
from media_pipeline.documents import TEXTRACT, PageText
from media_pipeline.errors import ServiceJobFailed, TransientError
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import StreamedUpload, read_json, results_key, write_json, write_text
from media_pipeline.textract import textract_errors
from media_pipeline.textract_blocks import PageTextCollector

MAX_RESULTS = 1000  # blocks per GetDocumentTextDetection call (the API's maximum)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def read_job_results(job_id: str, ocr_pages: list[int], blocks_key: str) -> tuple[list[PageText], list[dict[str, Any]], int]:
    """Page through GetDocumentTextDetection to the last NextToken, one response in memory at a time.

    Blocks go to blocks_key as Textract returned them (its page numbers are the OCR input's; the file's
    "OriginalPageNumbers" maps them back). Returns (pages renumbered to the original document, Textract's
    warnings, calls made).
    """
    textract = client("textract")
    collector = PageTextCollector()
    job_warnings: list[dict[str, Any]] = []
    calls, written, next_token = 0, 0, None
    with StreamedUpload(settings().media_bucket, blocks_key) as out:
        while True:
            request: dict[str, Any] = {"JobId": job_id, "MaxResults": MAX_RESULTS}
            if next_token:
                request["NextToken"] = next_token
            with textract_errors("GetDocumentTextDetection"):
                response = textract.get_document_text_detection(**request)
            calls += 1
            status = response.get("JobStatus")
            if status == "FAILED":
                raise ServiceJobFailed(f"the Textract job {job_id} failed: {response.get('StatusMessage') or 'no reason given'}",
                                       code="TEXTRACT_JOB_FAILED")
            if status == "IN_PROGRESS":
                raise TransientError(f"the Textract job {job_id} has not finished", code="TEXTRACT_JOB_NOT_FINISHED")
            blocks = response.get("Blocks") or []
            if calls == 1:
                head = {k: response[k] for k in ("DocumentMetadata", "JobStatus", "DetectDocumentTextModelVersion")
                        if k in response}
                out.write(_dumps({**head, "OriginalPageNumbers": ocr_pages})[:-1] + b',"Blocks":[')
            for block in blocks:
                out.write((b"," if written else b"") + _dumps(block))
                written += 1
            collector.add(blocks)
            job_warnings.extend(response.get("Warnings") or [])
            next_token = response.get("NextToken")
            if not next_token:
                break
        out.write(b'],"Warnings":' + _dumps(job_warnings) + b"}")
    return collector.pages(ocr_pages), job_warnings, calls


def job_warnings_as_codes(job_warnings: list[dict[str, Any]], ocr_pages: list[int]) -> list[dict[str, str]]:
    warnings = []
    for warning in job_warnings:
        pages = [ocr_pages[p - 1] for p in warning.get("Pages") or [] if 0 < p <= len(ocr_pages)]
        warnings.append({"code": "TEXTRACT_PARTIAL_RESULT",
                         "message": f"Textract could not read page(s) {documents.describe_pages(pages)} "
                                    f"({warning.get('ErrorCode', 'no error code')})"})
    return warnings


def collect_async(media: MediaItem, document: DocumentNeedsOcr, ocr: OcrResult) -> DocumentText:
    media_id, bucket = media.media_id, settings().media_bucket
    ocr_pages = [int(p) for p in document.ocr_pages]
    blocks_key = results_key(media_id, "textract-blocks.json")
    textract_pages, job_warnings, calls = read_job_results(ocr.job_id, ocr_pages, blocks_key)
    text_layer: list[PageText] = []
    if document.text_layer_pages_key:
        text_layer = [PageText.from_dict(p) for p in read_json(bucket, document.text_layer_pages_key)]
    pages = documents.merge_pages(text_layer, textract_pages)
    warnings = job_warnings_as_codes(job_warnings, ocr_pages)
    if not any(p.text for p in pages):
        warnings.append(documents.no_text_warning("document"))
    else:
        empty = documents.empty_page_numbers(p for p in pages if p.source == TEXTRACT)
        if empty:
            warnings.append({"code": "EMPTY_PAGES", "message": f"no text was found on page(s) {documents.describe_pages(empty)}"})
    metrics.add_metric(name="TextractResultCalls", unit=MetricUnit.Count, value=calls)
    logger.info("textract results collected", extra={"calls": calls, "pages": len(pages)})
    return DocumentText(
        text_key=write_text(bucket, results_key(media_id, "text.txt"), documents.pages_as_text(pages)),
        pages_key=write_json(bucket, results_key(media_id, "pages.json"), [p.as_dict() for p in pages]),
        blocks_key=blocks_key,
        page_count=int(document.page_count or len(pages)),
        page_sources=PageSources.from_state(documents.page_sources(pages)),
        warnings=warnings,
    )


def collect(media: MediaItem, document: DocumentAnalysis, ocr: OcrResult | None) -> DocumentText:
    if isinstance(document, DocumentNeedsOcr):
        return collect_async(media, document, require(ocr, "steps", "ocr"))
    page_count = int(document.page_count or 0)
    if document.mode == "text_layer":
        sources = PageSources(text_layer=list(range(1, page_count + 1)), textract=[])
    else:
        sources = PageSources(text_layer=[], textract=[1] if document.blocks_key else [])
    return DocumentText(text_key=document.text_key, pages_key=document.pages_key, blocks_key=document.blocks_key,
                        page_count=page_count, page_sources=sources,
                        warnings=[])  # analyze_document's warnings are already in the state; finalize gathers them


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = PipelineState.from_state(event)
    return collect(state.media, require(state.steps.document, "steps", "document"), state.steps.ocr).to_state()
