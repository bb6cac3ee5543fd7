"""Documents and images: pages of text, and the limits checked before any paid call.

Plain logic, no AWS call. Pillow is imported inside the functions that use it. A PDF's own text layer is read by
pdf_text_layer.py, Textract's blocks by textract_blocks.py; Textract job control is textract.py.

Limits are Amazon Textract's set quotas (https://docs.aws.amazon.com/textract/latest/dg/limits-document.html):
synchronous operations take JPEG, PNG and single-page TIFF up to 10 MB; asynchronous operations take PDF and
TIFF up to 500 MB and 3,000 pages (JPEG and PNG stay at 10 MB); images up to 10,000 px on every side; PDF pages
up to 40 inches (pdf_text_layer.MAX_PAGE_POINTS); no password-protected PDFs.
"""
from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any, Iterable

from media_pipeline.errors import MediaRejected

TEXT_LAYER = "text_layer"
TEXTRACT = "textract"

# Textract's set quotas.
SYNC_MAX_BYTES = 10 * 1024 * 1024  # DetectDocumentText; also JPEG/PNG in asynchronous jobs
ASYNC_MAX_BYTES = 500 * 1024 * 1024  # PDF and TIFF in asynchronous jobs
MAX_PAGES = 3000
MAX_IMAGE_SIDE = 10_000
# The project's own floors and guards.
MIN_IMAGE_SIDE = 50  # Textract needs characters ~15 px high; a smaller image cannot hold a readable line
MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
BOMB_PIXELS_PER_BYTE = 100  # real scans and photos stay far below this; a bomb declares millions per byte
BLANK_IMAGE_MAX_RANGE = 16  # grey levels between the darkest and lightest pixel of a reduced copy

IMAGE_FORMATS = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "TIFF": "tiff"}
# Formats Textract does not read but Pillow does (HEIC through pillow-heif): converted to PNG before Textract.
CONVERTED_FORMATS = {"WEBP": "webp", "GIF": "gif", "BMP": "bmp", "DIB": "bmp", "HEIF": "heic", "AVIF": "avif"}
CONVERT_MAX_BYTES = 50 * 1024 * 1024  # the source is converted in memory; an uncompressed BMP is the largest


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


def no_text_warning(what: str) -> dict[str, str]:
    return {"code": "NO_TEXT_FOUND", "message": f"no text was found in the {what}"}


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


def check_page_count(count: int) -> None:
    if count <= 0:
        raise MediaRejected("the PDF has no pages", code="EMPTY_DOCUMENT")
    if count > MAX_PAGES:
        raise MediaRejected(f"the document has {count} pages; Textract reads at most {MAX_PAGES}",
                            code="TOO_MANY_PAGES", details={"pages": count, "limit": MAX_PAGES})


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


def convert_to_png(data: bytes) -> tuple[bytes, list[dict[str, str]]]:
    """A WebP, GIF, BMP, HEIC or AVIF image as PNG for Textract, with its warnings (an animation's first frame only).

    Dimensions are checked from the header before anything is decoded, as for the formats Textract reads.
    """
    if len(data) > CONVERT_MAX_BYTES:
        raise MediaRejected(f"the image is {len(data)} bytes; at most {CONVERT_MAX_BYTES} are converted for Textract",
                            code="DOCUMENT_TOO_LARGE", details={"size": len(data), "limit": CONVERT_MAX_BYTES})
    from PIL import Image

    _register_heif()
    image = _open_image(data)
    with image:
        fmt = CONVERTED_FORMATS.get(image.format or "")
        if fmt is None:
            raise MediaRejected(f"{image.format} images are not converted for Textract "
                                f"({', '.join(sorted(set(CONVERTED_FORMATS.values())))})",
                                code="UNSUPPORTED_IMAGE_FORMAT")
        width, height = image.size
        check_image_dimensions(width, height, len(data))
        found: list[dict[str, str]] = []
        frames = int(getattr(image, "n_frames", 1) or 1)
        if frames > 1:
            found.append({"code": "FIRST_FRAME_ONLY",
                          "message": f"the {fmt} image has {frames} frames; only the first was read"})
        try:
            image.seek(0)
            # Transparent pixels become white (text is usually dark on light), everything else plain RGB or grey.
            if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
                picture = image.convert("RGBA")
                flat = Image.new("RGB", picture.size, (255, 255, 255))
                flat.paste(picture, mask=picture.getchannel("A"))
            else:
                flat = image.convert("L" if image.mode in ("1", "L", "I;16") else "RGB")
            out = io.BytesIO()
            flat.save(out, format="PNG", optimize=False)
        except (OSError, ValueError, SyntaxError) as exc:
            raise MediaRejected(f"the image cannot be decoded: {exc}", code="CORRUPT_IMAGE") from exc
    return out.getvalue(), found


def _register_heif() -> None:
    """HEIC needs pillow-heif's decoder (AVIF, WebP, GIF and BMP are Pillow's own)."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError:  # without it, a HEIC upload is refused as UNSUPPORTED_IMAGE_FORMAT
        return
    register_heif_opener()


def needs_async(image: ImageInspection, size_bytes: int) -> bool:
    """Multi-page TIFF, or TIFF past the synchronous 10 MB, goes through an asynchronous job."""
    return image.format == "tiff" and (image.frames > 1 or size_bytes > SYNC_MAX_BYTES)
