"""A PDF's own text layer: which pages can be read without OCR, and a copy of the pages that need it (PDFium).

Plain logic, no AWS call. pypdfium2 is imported inside the functions that use it, so functions that only read
Textract results do not need it.
"""
from __future__ import annotations

import contextlib
import io
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterator

from media_pipeline.documents import TEXT_LAYER, PageText, check_page_count
from media_pipeline.errors import MediaRejected

MAX_PAGE_POINTS = 40 * 72  # Textract reads pages up to 40 inches
MIN_TEXT_LAYER_CHARS = 16  # fewer visible characters: a page number or a stamp, not the page's text
SCANNED_PAGE_MIN_CHARS = 200  # an image covering most of a page with less text than this is a scan with a thin layer
MAX_BAD_CHAR_RATIO = 0.10  # replacement, private-use and control characters: an unmapped font
MIN_ALNUM_RATIO = 0.50  # letters and digits among visible characters
BLANK_PAGE_MAX_PATHS = 50  # no text, no image and few drawing objects: an empty page, not outlined text

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


# PDFium is not thread-safe: no two threads may call it at once (pypdfium2's documentation). A Lambda sandbox runs
# one invocation at a time, but the local mode runs functions (and its OCR engine's page rendering) as threads of
# one process, so every use of PDFium holds this lock.
PDFIUM_LOCK = threading.RLock()


@contextlib.contextmanager
def open_pdf(source: str | bytes) -> Iterator[Any]:
    """Open a PDF (a path or bytes) with PDFium, holding PDFIUM_LOCK until it is closed; encrypted and unreadable
    files become MediaRejected."""
    import pypdfium2 as pdfium

    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(source)
        except pdfium.PdfiumError as exc:
            raise _pdf_error(exc) from exc
        try:
            yield pdf
        finally:
            pdf.close()


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
