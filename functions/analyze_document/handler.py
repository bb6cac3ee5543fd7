"""Analyze a document or image: check Textract's limits first, then take the cheapest route to its text.

- PDF whose every page has a usable text layer: read it, no Textract call (mode "text_layer").
- PDF with pages that need OCR: copy only those pages into results/<id>/ocr-input.pdf for an asynchronous
  job, keep the text-layer pages in results/<id>/text-layer-pages.json (mode "async").
- JPEG, PNG or single-page TIFF: DetectDocumentText, synchronous (mode "sync"). A multi-page or large TIFF
  goes through an asynchronous job like a PDF.
- WebP, GIF, BMP, HEIC or AVIF (Textract does not read them): converted to PNG (results/<id>/textract-input.png,
  an animation's first frame), then as a PNG.
"""
from __future__ import annotations

import os
import tempfile
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline import documents, pdf_text_layer, textract_blocks
from media_pipeline.aws import client
from media_pipeline.contract import DocumentAnalysis, DocumentNeedsOcr, DocumentTextRead, MediaItem, PipelineState
from media_pipeline.documents import PageText
from media_pipeline.errors import MediaRejected
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import (head_upload, reading_upload, results_key, upload_file, version_args, write_bytes,
                                    write_json, write_text)
from media_pipeline.textract import textract_errors

DOCUMENT_FORMATS = ("pdf", "png", "jpeg", "tiff")
CONVERTED_FORMATS = tuple(sorted(set(documents.CONVERTED_FORMATS.values())))


def _version(media: MediaItem) -> dict[str, str]:
    return version_args(media.version_id)


def _reading(media: MediaItem) -> Any:
    """Every read of the upload maps S3's errors the same way (OBJECT_NOT_FOUND, S3_THROTTLED, ...)."""
    return reading_upload(media.bucket, media.key, media.version_id)


def object_size(media: MediaItem) -> int:
    return int(head_upload(media.bucket, media.key, media.version_id)["ContentLength"])


def write_text_result(media_id: str, pages: list[PageText]) -> dict[str, str]:
    bucket = settings().media_bucket
    return {
        "text_key": write_text(bucket, results_key(media_id, "text.txt"), documents.pages_as_text(pages)),
        "pages_key": write_json(bucket, results_key(media_id, "pages.json"), [p.as_dict() for p in pages]),
    }


def analyze_pdf(media: MediaItem, workdir: str) -> DocumentAnalysis:
    media_id, bucket = media.media_id, settings().media_bucket
    path = os.path.join(workdir, "document.pdf")
    # Streamed to /tmp (up to 500 MB), never held in memory; PDFium reads pages from the file as needed.
    with _reading(media):
        client("s3").download_file(media.bucket, media.key, path, ExtraArgs=_version(media) or None)
    inspection = pdf_text_layer.inspect_pdf(path)
    facts: dict[str, Any] = {"format": "pdf", "page_count": inspection.page_count, "ocr_pages": inspection.ocr_pages}
    metrics.add_metric(name="DocumentPages", unit=MetricUnit.Count, value=inspection.page_count)
    metrics.add_metric(name="TextLayerPages", unit=MetricUnit.Count, value=len(inspection.text_layer_pages))
    if not inspection.ocr_pages:
        pages = inspection.text_layer_pages
        warnings = [] if any(p.text for p in pages) else [documents.no_text_warning("PDF (its pages are empty)")]
        return DocumentTextRead(mode="text_layer", **facts, **write_text_result(media_id, pages), blocks_key=None,
                                warnings=warnings)
    ocr_path = os.path.join(workdir, "ocr-input.pdf")
    pdf_text_layer.write_ocr_pdf(path, inspection.ocr_pages, ocr_path)
    ocr_key = results_key(media_id, "ocr-input.pdf")
    upload_file(ocr_path, bucket, ocr_key, "application/pdf")
    text_layer_key = write_json(bucket, results_key(media_id, "text-layer-pages.json"),
                                [p.as_dict() for p in inspection.text_layer_pages])
    metrics.add_metric(name="OcrPages", unit=MetricUnit.Count, value=len(inspection.ocr_pages))
    logger.info("pages need OCR", extra={"ocr_pages": len(inspection.ocr_pages), "pages": inspection.page_count})
    return DocumentNeedsOcr(mode="async", **facts, ocr_input_key=ocr_key, text_layer_pages_key=text_layer_key,
                            warnings=[])


def detect_text(data: bytes) -> dict[str, Any]:
    textract = client("textract")
    with textract_errors("DetectDocumentText"):
        response = textract.detect_document_text(Document={"Bytes": data})
    metrics.add_metric(name="TextractSyncPages", unit=MetricUnit.Count, value=1)
    response.pop("ResponseMetadata", None)
    return response


def analyze_converted(media: MediaItem, size: int) -> DocumentAnalysis:
    """An image Textract does not read, as a PNG it does; the PNG is kept with the results."""
    if size > documents.CONVERT_MAX_BYTES:
        raise MediaRejected(f"the image is {size} bytes; at most {documents.CONVERT_MAX_BYTES} are converted "
                            "for Textract", code="DOCUMENT_TOO_LARGE",
                            details={"size": size, "limit": documents.CONVERT_MAX_BYTES})
    with _reading(media):
        data = client("s3").get_object(Bucket=media.bucket, Key=media.key, **_version(media))["Body"].read()
    png, warnings = documents.convert_to_png(data)
    write_bytes(settings().media_bucket, results_key(media.media_id, "textract-input.png"), png, "image/png")
    metrics.add_metric(name="ImagesConverted", unit=MetricUnit.Count, value=1)
    return read_image(media.media_id, png, documents.inspect_image(png), media.detected_format or "image", warnings)


def analyze_image(media: MediaItem, size: int, workdir: str) -> DocumentAnalysis:
    media_id, bucket = media.media_id, settings().media_bucket
    version = _version(media)
    if size <= documents.SYNC_MAX_BYTES:
        with _reading(media):
            data: bytes | None = client("s3").get_object(Bucket=media.bucket, Key=media.key, **version)["Body"].read()
        inspection = documents.inspect_image(data)
    else:  # only a TIFF passes check_size above 10 MB: up to 500 MB, read from /tmp
        data = None
        path = os.path.join(workdir, "image.tiff")
        with _reading(media):
            client("s3").download_file(media.bucket, media.key, path, ExtraArgs=version or None)
        inspection = documents.inspect_image(path, size)
    facts: dict[str, Any] = {"format": inspection.format, "page_count": inspection.frames}
    if documents.needs_async(inspection, size):
        ocr_key = results_key(media_id, "ocr-input.tiff")
        source = {"Bucket": media.bucket, "Key": media.key, **version}
        with _reading(media):  # CopyObject reads the upload: a missing source is OBJECT_NOT_FOUND too
            client("s3").copy_object(Bucket=bucket, Key=ocr_key, CopySource=source, ContentType="image/tiff",
                                     MetadataDirective="REPLACE")
        return DocumentNeedsOcr(mode="async", **facts, ocr_pages=list(range(1, inspection.frames + 1)),
                                ocr_input_key=ocr_key, text_layer_pages_key=None, warnings=[])
    return read_image(media_id, data or b"", inspection, inspection.format, [])


def read_image(media_id: str, data: bytes, inspection: documents.ImageInspection, fmt: str,
               warnings: list[dict[str, str]]) -> DocumentTextRead:
    """One page Textract reads synchronously (JPEG, PNG or single-page TIFF), unless it is blank."""
    facts: dict[str, Any] = {"format": fmt, "page_count": 1}
    if inspection.blank:
        # One flat colour: nothing for OCR to find, so no paid call.
        blank = {"code": "NO_TEXT_FOUND", "message": "the image is blank (one flat colour); Textract was not called"}
        return DocumentTextRead(mode="sync", **facts, ocr_pages=[], **write_text_result(media_id, []), blocks_key=None,
                                warnings=[*warnings, blank])
    response = detect_text(data)
    blocks_key = write_json(settings().media_bucket, results_key(media_id, "textract-blocks.json"), response)
    pages = textract_blocks.pages_from_blocks(response.get("Blocks") or [], page_count=1)
    found = [] if any(p.text for p in pages) else [documents.no_text_warning("image")]
    return DocumentTextRead(mode="sync", **facts, ocr_pages=[1], **write_text_result(media_id, pages),
                            blocks_key=blocks_key, warnings=[*warnings, *found])


def analyze(media: MediaItem) -> DocumentAnalysis:
    fmt = media.detected_format or ""
    if fmt in CONVERTED_FORMATS:
        return analyze_converted(media, object_size(media))
    if fmt not in DOCUMENT_FORMATS:
        raise MediaRejected(f"{fmt or 'this'} content is not a document Textract reads (PDF, JPEG, PNG, TIFF) "
                            f"or an image converted for it ({', '.join(CONVERTED_FORMATS)})",
                            code="UNSUPPORTED_MEDIA_TYPE")
    size = object_size(media)
    documents.check_size(size, fmt)
    with tempfile.TemporaryDirectory(prefix="document-") as workdir:
        return analyze_pdf(media, workdir) if fmt == "pdf" else analyze_image(media, size, workdir)


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return analyze(PipelineState.from_state(event).media).to_state()
