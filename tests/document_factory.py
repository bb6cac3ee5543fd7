"""Test documents made on the spot: PDFs with and without a text layer, images with rendered text, bad inputs,
and real-shaped Textract responses (PAGE/LINE/WORD blocks with Geometry, Page numbers and NextToken paging).

Everything is generated with the standard library and Pillow, so any test can import it:

    from tests.document_factory import text_pdf, scanned_pdf, image_bytes, textract_responses
"""
from __future__ import annotations

import functools
import hashlib
import io
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Iterable

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points


@dataclass(frozen=True)
class TextPage:
    """A born-digital page: the lines are drawn in Helvetica and are in the text layer."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class ScannedPage:
    """A page that is only a picture of its lines (JPEG), with an optional thin text layer on top."""

    lines: tuple[str, ...]
    overlay: str = ""  # e.g. a page number stamped as real text over the scan
    size: tuple[int, int] = (PAGE_WIDTH, PAGE_HEIGHT)  # points


@dataclass(frozen=True)
class BlankPage:
    pass


def text_page(*lines: str) -> TextPage:
    return TextPage(tuple(lines))


def scanned_page(*lines: str, overlay: str = "", size: tuple[int, int] = (PAGE_WIDTH, PAGE_HEIGHT)) -> ScannedPage:
    return ScannedPage(tuple(lines), overlay, size)


# ---------------------------------------------------------------------------------------------------------------
# Images
# ---------------------------------------------------------------------------------------------------------------
def render_lines(lines: Iterable[str], size: tuple[int, int] = (850, 1100), font_size: int = 28) -> Any:
    """A white greyscale page with black text lines (Pillow's default font)."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=font_size)
    y = 60
    for line in lines:
        draw.text((60, y), line, fill=0, font=font)
        y += int(font_size * 1.6)
    return image


def image_bytes(lines: Iterable[str] = ("Hello image",), fmt: str = "PNG", size: tuple[int, int] = (850, 1100)) -> bytes:
    buffer = io.BytesIO()
    image = render_lines(lines, size)
    image.save(buffer, format=fmt, **({"quality": 80} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def blank_image(fmt: str = "PNG", size: tuple[int, int] = (800, 600)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, (255, 255, 255)).save(buffer, format=fmt)
    return buffer.getvalue()


def multipage_tiff(pages: list[list[str]], size: tuple[int, int] = (425, 550)) -> bytes:
    frames = [render_lines(lines, size, font_size=18) for lines in pages]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return buffer.getvalue()


def noisy_png(side: int = 2000) -> bytes:
    """Random RGB noise: barely compressible, so a modest image passes 10 MB."""
    import os

    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def decompression_bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG header declaring width x height pixels, with a tiny compressed body (a few hundred bytes)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    body = zlib.compress(row * 16, 9)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body) + _png_chunk(b"IEND", b"")


# ---------------------------------------------------------------------------------------------------------------
# PDF writer: just enough PDF 1.4 for Helvetica text pages and full-page JPEG scans
# ---------------------------------------------------------------------------------------------------------------
def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def _text_content(lines: Iterable[str], x: int = 72, y: int = 720, size: int = 12) -> bytes:
    parts = [b"BT", f"/F1 {size} Tf {size + 4} TL {x} {y} Td".encode()]
    for index, line in enumerate(lines):
        if index:
            parts.append(b"T*")
        parts.append(_pdf_string(line) + b" Tj")
    parts.append(b"ET")
    return b"\n".join(parts)


@functools.lru_cache(maxsize=64)
def _jpeg(lines: tuple[str, ...]) -> tuple[bytes, int, int]:
    image = render_lines(lines)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=60)
    return buffer.getvalue(), image.width, image.height


class _PdfWriter:
    def __init__(self) -> None:
        self.objects: list[bytes | None] = []

    def reserve(self) -> int:
        self.objects.append(None)
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def add(self, body: bytes) -> int:
        number = self.reserve()
        self.set(number, body)
        return number

    def stream(self, dictionary: bytes, data: bytes) -> bytes:
        return b"<< " + dictionary + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

    def build(self, root: int, trailer_extra: bytes = b"") -> bytes:
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + (body or b"null") + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        for offset in offsets:
            out += b"%010d 00000 n \n" % offset
        out += b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
            len(self.objects) + 1, root, trailer_extra, xref)
        return bytes(out)


def pdf_bytes(pages: list[TextPage | ScannedPage | BlankPage], *, encrypt_with: str | None = None) -> bytes:
    """A PDF with the given pages. With encrypt_with, streams are RC4-encrypted under that user password."""
    writer = _PdfWriter()
    catalog, page_tree = writer.reserve(), writer.reserve()
    font = writer.add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    streams: list[tuple[int, bytes, bytes]] = []  # (object number, dictionary, data), encrypted later if asked
    kids = []
    scans: dict[tuple[str, ...], tuple[int, int, int]] = {}  # the same scan is embedded once
    for page in pages:
        resources = b"/Font << /F1 %d 0 R >>" % font
        if isinstance(page, ScannedPage):
            if page.lines not in scans:
                data, width, height = _jpeg(page.lines)
                number = writer.reserve()
                streams.append((number, b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
                                        b"/BitsPerComponent 8 /Filter /DCTDecode" % (width, height), data))
                scans[page.lines] = (number, width, height)
            image = scans[page.lines][0]
            resources += b" /XObject << /Im1 %d 0 R >>" % image
            content = b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % page.size
            if page.overlay:
                content += b"\n" + _text_content([page.overlay], x=500, y=40, size=9)
        elif isinstance(page, TextPage):
            content = _text_content(page.lines)
        else:
            content = b""
        width, height = page.size if isinstance(page, ScannedPage) else (PAGE_WIDTH, PAGE_HEIGHT)
        content_number = writer.reserve()
        streams.append((content_number, b"", content))
        kids.append(writer.add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %d %d] /Resources << %s >> /Contents %d 0 R >>"
                               % (page_tree, width, height, resources, content_number)))
    writer.set(page_tree, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)))
    writer.set(catalog, b"<< /Type /Catalog /Pages %d 0 R >>" % page_tree)
    trailer_extra = b""
    if encrypt_with is not None:
        key, encrypt_dict, file_id = _standard_security(encrypt_with)
        encrypt = writer.add(encrypt_dict)
        trailer_extra = b"/Encrypt %d 0 R /ID [<%s> <%s>] " % (encrypt, file_id.hex().encode(), file_id.hex().encode())
        streams = [(n, d, _rc4(_object_key(key, n), data)) for n, d, data in streams]
    for number, dictionary, data in streams:
        writer.set(number, writer.stream(dictionary, data))
    return writer.build(catalog, trailer_extra)


def text_pdf(pages: list[list[str]]) -> bytes:
    """A born-digital PDF: every page's lines are in its text layer."""
    return pdf_bytes([TextPage(tuple(lines)) for lines in pages])


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A scanned-style PDF: every page is a JPEG of its lines, with no text layer."""
    return pdf_bytes([ScannedPage(tuple(lines)) for lines in pages])


def encrypted_pdf(lines: list[str] | None = None, password: str = "secret") -> bytes:
    return pdf_bytes([TextPage(tuple(lines or ["Confidential text behind a password."]))], encrypt_with=password)


def corrupt_pdf() -> bytes:
    """Starts like a PDF, then nothing PDF-shaped: no objects, no cross-reference table, no trailer."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\nthis is not a PDF body\n"


def long_pdf(page_count: int = 300, scanned_every: int = 0) -> tuple[bytes, dict[int, str]]:
    """A page_count-page PDF and each page's expected text; with scanned_every=n, every n-th page is a scan."""
    pages: list[TextPage | ScannedPage | BlankPage] = []
    expected: dict[int, str] = {}
    for number in range(1, page_count + 1):
        lines = (f"Page {number} of the long report.", f"Section {number // 10 + 1}, paragraph {number % 10 + 1}.")
        expected[number] = "\n".join(lines)
        if scanned_every and number % scanned_every == 0:
            pages.append(ScannedPage(("A scanned page of the long report.",)))
            expected[number] = "A scanned page of the long report."
        else:
            pages.append(TextPage(lines))
    return pdf_bytes(pages), expected


# Standard security handler, revision 2 (RC4, 40-bit): enough for PDFium to ask for the password.
_PAD = bytes.fromhex("28bf4e5e4e758a4164004e56fffa01082e2e00b6d0683e802f0ca9fe6453697a")


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _padded(password: str) -> bytes:
    return (password.encode("latin-1") + _PAD)[:32]


def _standard_security(user_password: str, owner_password: str = "owner") -> tuple[bytes, bytes, bytes]:
    permissions = -4
    owner_key = hashlib.md5(_padded(owner_password)).digest()[:5]
    o_entry = _rc4(owner_key, _padded(user_password))
    file_id = hashlib.md5(b"media-pipeline-test").digest()
    key = hashlib.md5(_padded(user_password) + o_entry + struct.pack("<i", permissions) + file_id).digest()[:5]
    u_entry = _rc4(key, _PAD)
    encrypt = (b"<< /Filter /Standard /V 1 /R 2 /Length 40 /P %d /O <%s> /U <%s> >>"
               % (permissions, o_entry.hex().encode(), u_entry.hex().encode()))
    return key, encrypt, file_id


def _object_key(key: bytes, number: int, generation: int = 0) -> bytes:
    digest = hashlib.md5(key + number.to_bytes(3, "little") + generation.to_bytes(2, "little")).digest()
    return digest[: min(len(key) + 5, 16)]


# ---------------------------------------------------------------------------------------------------------------
# Textract responses, shaped like the real ones
# ---------------------------------------------------------------------------------------------------------------
def _geometry(left: float, top: float, width: float, height: float) -> dict[str, Any]:
    return {"BoundingBox": {"Width": width, "Height": height, "Left": left, "Top": top},
            "Polygon": [{"X": left, "Y": top}, {"X": left + width, "Y": top},
                        {"X": left + width, "Y": top + height}, {"X": left, "Y": top + height}]}


def textract_blocks(pages: dict[int, list[str]], *, shuffle_lines: bool = False) -> list[dict[str, Any]]:
    """PAGE, LINE and WORD blocks for each page's lines, in Textract's order (a page's blocks together).

    The PAGE block's CHILD relationship lists its LINE ids in reading order. With shuffle_lines, LINE
    blocks are emitted bottom-up (the order a reader must not trust) and the PAGE lists no children.
    """
    blocks: list[dict[str, Any]] = []
    for page, lines in sorted(pages.items()):
        line_blocks: list[dict[str, Any]] = []
        word_blocks: list[dict[str, Any]] = []
        for index, text in enumerate(lines):
            top = 0.05 + index * 0.04
            words = text.split()
            word_ids = []
            left = 0.08
            for w_index, word in enumerate(words):
                width = 0.012 * max(len(word), 1)
                word_id = f"p{page}-l{index}-w{w_index}"
                word_ids.append(word_id)
                word_blocks.append({"BlockType": "WORD", "Confidence": 99.1, "Text": word, "TextType": "PRINTED",
                                    "Geometry": _geometry(left, top, width, 0.02), "Id": word_id, "Page": page})
                left += width + 0.01
            line_blocks.append({"BlockType": "LINE", "Confidence": 99.4, "Text": text,
                                "Geometry": _geometry(0.08, top, max(left - 0.09, 0.01), 0.02), "Id": f"p{page}-l{index}",
                                "Relationships": [{"Type": "CHILD", "Ids": word_ids}] if word_ids else [], "Page": page})
        page_block = {"BlockType": "PAGE", "Geometry": _geometry(0.0, 0.0, 1.0, 1.0), "Id": f"p{page}", "Page": page}
        if line_blocks and not shuffle_lines:
            page_block["Relationships"] = [{"Type": "CHILD", "Ids": [b["Id"] for b in line_blocks]}]
        if shuffle_lines:
            line_blocks.reverse()
        blocks.append(page_block)
        blocks.extend(line_blocks)
        blocks.extend(word_blocks)
    return blocks


def detect_document_text_response(lines: list[str]) -> dict[str, Any]:
    """What DetectDocumentText returns for one image."""
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": textract_blocks({1: lines}),
            "DetectDocumentTextModelVersion": "1.0", "ResponseMetadata": {"HTTPStatusCode": 200}}


def textract_responses(pages: dict[int, list[str]], *, blocks_per_response: int = 1000,
                       status: str = "SUCCEEDED", warnings: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """GetDocumentTextDetection's pages of results for an asynchronous job: NextToken 't1', 't2', ..."""
    blocks = textract_blocks(pages)
    chunks = [blocks[i:i + blocks_per_response] for i in range(0, len(blocks), blocks_per_response)] or [[]]
    responses = []
    for index, chunk in enumerate(chunks):
        response: dict[str, Any] = {"DocumentMetadata": {"Pages": len(pages)}, "JobStatus": status, "Blocks": chunk,
                                    "DetectDocumentTextModelVersion": "1.0", "ResponseMetadata": {"HTTPStatusCode": 200}}
        if warnings and index == 0:
            response["Warnings"] = warnings
        if index + 1 < len(chunks):
            response["NextToken"] = f"t{index + 1}"
        responses.append(response)
    return responses
