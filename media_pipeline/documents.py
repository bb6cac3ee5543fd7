"""Documents and images: limits checked before any paid call, PDF text layers, Textract blocks to text per page.

Everything above "Textract job control" is plain logic with no AWS call. pypdfium2 and Pillow are imported
inside the functions that use them, so functions that only read Textract results do not need them.

Limits are Amazon Textract's set quotas (https://docs.aws.amazon.com/textract/latest/dg/limits-document.html):
synchronous operations take JPEG, PNG and single-page TIFF up to 10 MB; asynchronous operations take PDF and
TIFF up to 500 MB and 3,000 pages (JPEG and PNG stay at 10 MB); images up to 10,000 px on every side; PDF pages
up to 40 inches; no password-protected PDFs.
"""
from __future__ import annotations

import contextlib
import io
import json
import re
import unicodedata
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from media_pipeline.errors import STATES, MediaRejected, PipelineError, aws_error, is_stale_token
from media_pipeline.errors import TEXTRACT as TEXTRACT_SERVICE

TEXT_LAYER = "text_layer"
TEXTRACT = "textract"
TOKEN_KIND = "textract"  # task tokens: pk TOKEN#textract#<media_id>

# Textract's set quotas.
SYNC_MAX_BYTES = 10 * 1024 * 1024  # DetectDocumentText; also JPEG/PNG in asynchronous jobs
ASYNC_MAX_BYTES = 500 * 1024 * 1024  # PDF and TIFF in asynchronous jobs
MAX_PAGES = 3000
MAX_IMAGE_SIDE = 10_000
MAX_PAGE_POINTS = 40 * 72  # 40 inches
# The project's own floors and guards.
MIN_IMAGE_SIDE = 50  # Textract needs characters ~15 px high; a smaller image cannot hold a readable line
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
BOMB_PIXELS_PER_BYTE = 100  # real scans and photos stay far below this; a bomb declares millions per byte
MIN_TEXT_LAYER_CHARS = 16  # fewer visible characters: a page number or a stamp, not the page's text
SCANNED_PAGE_MIN_CHARS = 200  # an image covering most of a page with less text than this is a scan with a thin layer
MAX_BAD_CHAR_RATIO = 0.10  # replacement, private-use and control characters: an unmapped font
MIN_ALNUM_RATIO = 0.50  # letters and digits among visible characters
BLANK_PAGE_MAX_PATHS = 50  # no text, no image and few drawing objects: an empty page, not outlined text
BLANK_IMAGE_MAX_RANGE = 16  # grey levels between the darkest and lightest pixel of a reduced copy

IMAGE_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "TIFF": "tiff"}



# ---------------------------------------------------------------------------------------------------------------
# Pages of text
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PageText:
    page: int  # 1-based, in the original document
    text: str
    source: str  # text_layer | textract

    def as_dict(self) -> dict[str, Any]:
        return {"page": self.page, "text": self.text, "source": self.source}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> "PageText":
        return cls(int(value["page"]), str(value["text"]), str(value["source"]))


def merge_pages(*groups: Iterable[PageText]) -> list[PageText]:
    """Text-layer pages and Textract pages back in the original page order (one entry per page)."""
    by_page: dict[int, PageText] = {}
    for group in groups:
        for page in group:
            by_page[page.page] = page
    return [by_page[number] for number in sorted(by_page)]


def pages_as_text(pages: Iterable[PageText]) -> str:
    """Plain text: pages in order, separated by a blank line; empty pages add nothing."""
    text = "\n\n".join(p.text for p in pages if p.text)
    return text + "\n" if text else ""


def page_sources(pages: Iterable[PageText]) -> dict[str, list[int]]:
    sources: dict[str, list[int]] = {TEXT_LAYER: [], TEXTRACT: []}
    for page in pages:
        sources[page.source].append(page.page)
    return sources


def empty_page_numbers(pages: Iterable[PageText]) -> list[int]:
    return [p.page for p in pages if not p.text]


def describe_pages(numbers: list[int]) -> str:
    """'1-3, 7' for [1, 2, 3, 7]: short enough for a warning message."""
    runs: list[str] = []
    start = previous = None
    for number in sorted(numbers) + [None]:  # type: ignore[operator]
        if start is not None and number == previous + 1:  # type: ignore[operator]
            previous = number
            continue
        if start is not None:
            runs.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(runs)


# ---------------------------------------------------------------------------------------------------------------
# PDF text layer
# ---------------------------------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean_text_layer(raw: str) -> str:
    """PDFium's page text with '\\n' line ends, no control characters, no trailing spaces, no runs of blank lines."""
    text = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ")
    text = _CONTROL.sub("", text)
    lines = [line.rstrip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _is_bad_char(ch: str) -> bool:
    return ch == "\ufffd" or unicodedata.category(ch) in ("Co", "Cn", "Cc", "Cs")


def text_layer_is_usable(text: str, *, image_coverage: float = 0.0) -> bool:
    """Whether a page's text layer can stand in for OCR.

    Too few characters (a page number on a scan), too many unmappable characters (a font without a
    Unicode map), too few letters and digits (symbol soup), or an image covering most of the page with
    only a thin layer of text (a header over a scanned body) all mean the page goes to Textract.
    """
    visible = [ch for ch in text if not ch.isspace()]
    if len(visible) < MIN_TEXT_LAYER_CHARS:
        return False
    if sum(1 for ch in visible if _is_bad_char(ch)) / len(visible) > MAX_BAD_CHAR_RATIO:
        return False
    if sum(1 for ch in visible if ch.isalnum()) / len(visible) < MIN_ALNUM_RATIO:
        return False
    if image_coverage >= 0.5 and len(visible) < SCANNED_PAGE_MIN_CHARS:
        return False
    return True


@dataclass(frozen=True)
class PdfInspection:
    page_count: int
    text_layer_pages: list[PageText]  # pages whose text layer is used (including blank pages, with "")
    ocr_pages: list[int] = field(default_factory=list)  # original page numbers that need OCR


def _pdf_error(exc: Exception) -> MediaRejected:
    import pypdfium2.raw as pdfium_c

    code = getattr(exc, "err_code", None)
    if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
        return MediaRejected("the PDF is password-protected or uses an unsupported security handler",
                             code="ENCRYPTED_DOCUMENT")
    return MediaRejected(f"the PDF cannot be read: {exc}", code="CORRUPT_DOCUMENT")


@contextlib.contextmanager
def open_pdf(source: str | bytes) -> Iterator[Any]:
    """Open a PDF (a path or bytes) with PDFium; encrypted and unreadable files become MediaRejected."""
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        raise _pdf_error(exc) from exc
    try:
        yield pdf
    finally:
        pdf.close()


def check_page_count(count: int) -> None:
    if count <= 0:
        raise MediaRejected("the PDF has no pages", code="EMPTY_DOCUMENT")
    if count > MAX_PAGES:
        raise MediaRejected(f"the document has {count} pages; Textract reads at most {MAX_PAGES}",
                            code="TOO_MANY_PAGES", details={"pages": count, "limit": MAX_PAGES})


def _image_coverage(page: Any, width: float, height: float) -> tuple[float, int, int]:
    """(share of the page covered by images, image objects, path objects), top-level objects only."""
    import pypdfium2.raw as pdfium_c

    area = max(width * height, 1.0)
    covered, images, paths = 0.0, 0, 0
    for obj in page.get_objects(max_depth=2):
        kind = obj.type
        if kind == pdfium_c.FPDF_PAGEOBJ_IMAGE:
            images += 1
            left, bottom, right, top = obj.get_bounds()
            w = max(0.0, min(right, width) - max(left, 0.0))
            h = max(0.0, min(top, height) - max(bottom, 0.0))
            covered += w * h
        elif kind == pdfium_c.FPDF_PAGEOBJ_PATH:
            paths += 1
    return min(covered / area, 1.0), images, paths


def inspect_pdf(source: str | bytes) -> PdfInspection:
    """Page count and, per page, the text layer if it is usable; otherwise the page is listed for OCR."""
    import pypdfium2 as pdfium

    with open_pdf(source) as pdf:
        count = len(pdf)
        check_page_count(count)
        text_pages: list[PageText] = []
        ocr_pages: list[int] = []
        for index in range(count):
            number = index + 1
            try:
                page = pdf[index]
            except pdfium.PdfiumError as exc:
                raise MediaRejected(f"page {number} of the PDF cannot be read: {exc}", code="CORRUPT_DOCUMENT") from exc
            try:
                width, height = page.get_size()
                textpage = page.get_textpage()
                try:
                    text = clean_text_layer(textpage.get_text_range())
                finally:
                    textpage.close()
                coverage, images, paths = _image_coverage(page, width, height)
            finally:
                page.close()
            if text_layer_is_usable(text, image_coverage=coverage):
                text_pages.append(PageText(number, text, TEXT_LAYER))
            elif not text.strip() and images == 0 and paths < BLANK_PAGE_MAX_PATHS:
                text_pages.append(PageText(number, "", TEXT_LAYER))  # an empty page: nothing for OCR to read
            else:
                if max(width, height) > MAX_PAGE_POINTS:
                    raise MediaRejected(f"page {number} is {width / 72:.0f} x {height / 72:.0f} inches; Textract reads "
                                        f"pages up to 40 inches", code="PAGE_TOO_LARGE")
                ocr_pages.append(number)
        return PdfInspection(count, text_pages, ocr_pages)


def write_ocr_pdf(source: str | bytes, ocr_pages: list[int], dest: str | io.BytesIO) -> None:
    """A new PDF holding only the pages that need OCR, in order, so Textract bills only those pages.

    Page i (1-based) of the new PDF is original page ocr_pages[i - 1]. The copy is never encrypted.
    """
    import pypdfium2 as pdfium

    with open_pdf(source) as pdf:
        out = pdfium.PdfDocument.new()
        try:
            out.import_pages(pdf, pages=[n - 1 for n in ocr_pages])
            out.save(dest)
        finally:
            out.close()


# ---------------------------------------------------------------------------------------------------------------
# Size and image checks (before any paid call)
# ---------------------------------------------------------------------------------------------------------------
def check_size(size: int, fmt: str) -> None:
    """The file-size limit for the format: 500 MB for PDF and TIFF (asynchronous), 10 MB for JPEG and PNG."""
    limit = ASYNC_MAX_BYTES if fmt in ("pdf", "tiff") else SYNC_MAX_BYTES
    if size <= 0:
        raise MediaRejected("the document is empty", code="EMPTY_DOCUMENT")
    if size > limit:
        raise MediaRejected(f"the {fmt} file is {size} bytes; Textract accepts at most {limit} bytes",
                            code="DOCUMENT_TOO_LARGE", details={"size": size, "limit": limit})


@dataclass(frozen=True)
class ImageInspection:
    format: str  # jpeg | png | tiff
    width: int
    height: int
    frames: int
    blank: bool


def _open_image(source: bytes | str) -> Any:
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS; this module applies its own pixel limit below.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
        except Image.DecompressionBombError as exc:
            raise MediaRejected(f"the image declares more pixels than can be decoded safely: {exc}",
                                code="DECOMPRESSION_BOMB") from exc
        except UnidentifiedImageError as exc:
            raise MediaRejected("the image format is not one Textract reads (JPEG, PNG, TIFF)",
                                code="UNSUPPORTED_IMAGE_FORMAT") from exc
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaRejected(f"the image cannot be read: {exc}", code="CORRUPT_IMAGE") from exc


def check_image_dimensions(width: int, height: int, size_bytes: int) -> None:
    pixels = width * height
    if pixels > MAX_IMAGE_PIXELS and pixels > BOMB_PIXELS_PER_BYTE * max(size_bytes, 1):
        raise MediaRejected(f"the image declares {width} x {height} pixels in {size_bytes} bytes",
                            code="DECOMPRESSION_BOMB", details={"width": width, "height": height})
    if max(width, height) > MAX_IMAGE_SIDE:
        raise MediaRejected(f"the image is {width} x {height} pixels; Textract reads at most {MAX_IMAGE_SIDE} px a side",
                            code="IMAGE_TOO_LARGE", details={"width": width, "height": height})
    if min(width, height) < MIN_IMAGE_SIDE:
        raise MediaRejected(f"the image is {width} x {height} pixels; at least {MIN_IMAGE_SIDE} px a side is needed",
                            code="IMAGE_TOO_SMALL", details={"width": width, "height": height})


def _is_blank(image: Any) -> bool:
    """Whether the (first frame of the) image is one flat colour: no text to pay Textract for."""
    if image.format == "JPEG":
        image.draft("L", (1024, 1024))  # decode at a reduced scale: cheap for large photos
    grey = image.convert("L")
    factor = max(1, max(grey.size) // 1024)
    if factor > 1:
        grey = grey.reduce(factor)
    low, high = grey.getextrema()
    return high - low < BLANK_IMAGE_MAX_RANGE


def inspect_image(source: bytes | str, size_bytes: int | None = None) -> ImageInspection:
    """Format, dimensions and frames from the header, checked before anything is decoded; then decoded once.

    source is the image's bytes, or a path to it (a large TIFF) with its size.
    """
    size = len(source) if isinstance(source, bytes) else int(size_bytes or 0)
    image = _open_image(source)
    with image:
        fmt = IMAGE_FORMATS.get(image.format or "")
        if fmt is None:
            raise MediaRejected(f"{image.format} images are not read by Textract (JPEG, PNG, TIFF)",
                                code="UNSUPPORTED_IMAGE_FORMAT")
        check_size(size, fmt)
        width, height = image.size
        check_image_dimensions(width, height, size)
        frames = int(getattr(image, "n_frames", 1) or 1) if fmt == "tiff" else 1
        if frames > MAX_PAGES:
            raise MediaRejected(f"the TIFF has {frames} pages; Textract reads at most {MAX_PAGES}",
                                code="TOO_MANY_PAGES", details={"pages": frames, "limit": MAX_PAGES})
        try:
            blank = _is_blank(image) if frames == 1 else False
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaRejected(f"the image cannot be decoded: {exc}", code="CORRUPT_IMAGE") from exc
        return ImageInspection(fmt, width, height, frames, blank)


def needs_async(image: ImageInspection, size_bytes: int) -> bool:
    """Multi-page TIFF, or TIFF past the synchronous 10 MB, goes through an asynchronous job."""
    return image.format == "tiff" and (image.frames > 1 or size_bytes > SYNC_MAX_BYTES)


# ---------------------------------------------------------------------------------------------------------------
# Textract blocks to text
# ---------------------------------------------------------------------------------------------------------------
def _top_left(block: dict[str, Any]) -> tuple[float, float, float]:
    box = (block.get("Geometry") or {}).get("BoundingBox") or {}
    return float(box.get("Top", 0.0)), float(box.get("Left", 0.0)), float(box.get("Height", 0.0))


def order_lines_by_geometry(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Top to bottom; lines whose vertical middles are within half a line height share a row, left to right."""
    ordered = sorted(lines, key=lambda b: _top_left(b)[:2])
    rows: list[list[dict[str, Any]]] = []
    row_middle = row_height = 0.0
    for line in ordered:
        top, _, height = _top_left(line)
        middle = top + height / 2
        if rows and abs(middle - row_middle) <= max(row_height, height) / 2:
            rows[-1].append(line)
            continue
        rows.append([line])
        row_middle, row_height = middle, height
    return [line for row in rows for line in sorted(row, key=lambda b: _top_left(b)[1])]


class PageTextCollector:
    """Gathers LINE blocks (and each PAGE's child order) from Textract responses, one response at a time.

    Only LINE text, geometry and ids are kept; WORD blocks are dropped as they arrive, so a long job's
    results never sit in memory at once.
    """

    def __init__(self) -> None:
        self._lines: dict[int, list[dict[str, Any]]] = {}
        self._children: dict[int, list[str]] = {}
        self.pages_seen: set[int] = set()

    def add(self, blocks: Iterable[dict[str, Any]]) -> None:
        for block in blocks:
            kind = block.get("BlockType")
            page = int(block.get("Page") or 1)
            if kind == "PAGE":
                self.pages_seen.add(page)
                for relation in block.get("Relationships") or []:
                    if relation.get("Type") == "CHILD":
                        self._children.setdefault(page, []).extend(relation.get("Ids") or [])
            elif kind == "LINE":
                self.pages_seen.add(page)
                self._lines.setdefault(page, []).append(
                    {"Id": block.get("Id"), "Text": block.get("Text") or "", "Geometry": block.get("Geometry") or {}})

    def page_text(self, page: int) -> str:
        lines = self._lines.get(page, [])
        order = {block_id: i for i, block_id in enumerate(self._children.get(page, []))}
        if order and all(line["Id"] in order for line in lines):
            ordered = sorted(lines, key=lambda line: order[line["Id"]])  # Textract's own reading order
        else:
            ordered = order_lines_by_geometry(lines)
        return "\n".join(line["Text"].strip() for line in ordered if line["Text"].strip())

    def pages(self, page_map: list[int] | None = None, page_count: int | None = None) -> list[PageText]:
        """Text of each Textract page, renumbered: Textract page i is original page page_map[i - 1]."""
        count = page_count if page_count is not None else (len(page_map) if page_map else max(self.pages_seen, default=0))
        result = []
        for number in range(1, count + 1):
            original = page_map[number - 1] if page_map else number
            result.append(PageText(original, self.page_text(number), TEXTRACT))
        return result


def pages_from_blocks(blocks: Iterable[dict[str, Any]], page_map: list[int] | None = None,
                      page_count: int | None = None) -> list[PageText]:
    collector = PageTextCollector()
    collector.add(blocks)
    return collector.pages(page_map, page_count)


def no_text_warning(what: str) -> dict[str, str]:
    return {"code": "NO_TEXT_FOUND", "message": f"no text was found in the {what}"}


# ---------------------------------------------------------------------------------------------------------------
# Textract job control (AWS calls)
# ---------------------------------------------------------------------------------------------------------------
def service_error(exc: Exception, action: str) -> PipelineError:
    """A boto error from Textract as the typed failure the state machine retries or catches."""
    return aws_error(exc, TEXTRACT_SERVICE, action)


@contextlib.contextmanager
def textract_errors(action: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise service_error(exc, action) from exc


def resume_execution(media_id: str, job_id: str, status: str, cause: str | None = None) -> str:
    """Send a finished job's outcome to the execution waiting on it, then forget the token.

    Returns what happened ('success', 'failure', 'no-token', 'stale-token'), for logs and tests.
    """
    from botocore.exceptions import ClientError

    from media_pipeline import jobs
    from media_pipeline.aws import client

    token = jobs.get_task_token(TOKEN_KIND, media_id)
    if token is None:
        return "no-token"
    sfn = client("stepfunctions")
    outcome = "success" if status in ("SUCCEEDED", "PARTIAL_SUCCESS") else "failure"
    try:
        if outcome == "success":
            sfn.send_task_success(taskToken=token, output=json.dumps({"job_id": job_id, "status": status}))
        else:
            reason = cause or f"the Textract job {job_id} ended {status}"
            sfn.send_task_failure(taskToken=token, error="TEXTRACT_JOB_FAILED", cause=reason[:32000])
    except ClientError as exc:
        if not is_stale_token(exc):
            raise aws_error(exc, STATES, "SendTaskSuccess" if outcome == "success" else "SendTaskFailure") from exc
        outcome = "stale-token"
    jobs.delete_task_token(TOKEN_KIND, media_id)
    return outcome


def job_status(job_id: str) -> tuple[str, str | None]:
    """(JobStatus, StatusMessage) with the smallest possible page of results."""
    from media_pipeline.aws import client

    with textract_errors("GetDocumentTextDetection"):
        response = client("textract").get_document_text_detection(JobId=job_id, MaxResults=1)
    return response.get("JobStatus", "IN_PROGRESS"), response.get("StatusMessage")


def media_id_from_location(location: dict[str, Any], results_prefix: str) -> str | None:
    """The media id from an OCR input key (results/<media_id>/ocr-input.*): the fallback when JobTag is empty."""
    name = (location or {}).get("S3ObjectName") or ""
    match = re.fullmatch(re.escape(results_prefix) + r"([0-9a-f]{32})/ocr-input\.[a-z]+", name)
    return match.group(1) if match else None
