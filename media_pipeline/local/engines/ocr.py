"""Offline OCR behind the emulated Textract: RapidOCR (PP-OCR ONNX models shipped inside its wheel).

Images (PNG, JPEG, TIFF with all its frames) are read with Pillow; PDF pages are rendered with pypdfium2 at
OCR_DPI. The answer is Textract's block list: a PAGE per page, LINEs in reading order, WORDs, each with
Confidence (0-100), Geometry (BoundingBox and Polygon normalised to the page) and Page, PAGE→LINE→WORD by
CHILD relationships, as DetectDocumentText and GetDocumentTextDetection return them.
"""
from __future__ import annotations

import functools
import io
import threading
import uuid
from typing import Any, Iterator

from media_pipeline.local.engines import exclusive, timed
from media_pipeline.local.moto_gaps import EngineError

MODEL_NAME = "rapidocr PP-OCRv6 (onnxruntime)"
OCR_DPI = 200
MAX_SIDE = 3000  # larger images are scaled down first: the detector works at ~1000-2000 px anyway
_lock = threading.Lock()


_engine_lock = threading.Lock()


def engine() -> Any:
    """The OCR engine, loaded once per process (under a lock: the warm-up thread and a first page would otherwise
    both load it)."""
    with _engine_lock:
        return _engine()


@functools.lru_cache(maxsize=1)
def _engine() -> Any:
    """Load the detector and the recogniser (the angle classifier is not used)."""
    from rapidocr import RapidOCR

    return RapidOCR(params={"Global.log_level": "warning"})


def pages(document: bytes) -> Iterator[Any]:
    """Each page of the document as an RGB Pillow image."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    if document[:5] == b"%PDF-":
        import pypdfium2

        from media_pipeline.pdf_text_layer import PDFIUM_LOCK  # PDFium is not thread-safe

        with PDFIUM_LOCK:
            try:
                pdf = pypdfium2.PdfDocument(document)
            except pypdfium2.PdfiumError as exc:
                raise EngineError(f"Request has unsupported document format: {exc}") from exc
        try:
            for index in range(len(pdf)):
                with PDFIUM_LOCK:
                    page = pdf[index]
                    image = page.render(scale=OCR_DPI / 72).to_pil().convert("RGB")
                    page.close()
                yield image
        finally:
            with PDFIUM_LOCK:
                pdf.close()
        return
    try:
        image = Image.open(io.BytesIO(document))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise EngineError(f"Request has unsupported document format: {exc}") from exc
    for frame in ImageSequence.Iterator(image):
        yield frame.convert("RGB")


def _geometry(points: list[list[float]], width: int, height: int) -> dict[str, Any]:
    xs = [min(max(p[0] / width, 0.0), 1.0) for p in points]
    ys = [min(max(p[1] / height, 0.0), 1.0) for p in points]
    return {"BoundingBox": {"Width": max(xs) - min(xs), "Height": max(ys) - min(ys), "Left": min(xs), "Top": min(ys)},
            "Polygon": [{"X": x, "Y": y} for x, y in zip(xs, ys)]}


def _whole_page() -> dict[str, Any]:
    return {"BoundingBox": {"Width": 1.0, "Height": 1.0, "Left": 0.0, "Top": 0.0},
            "Polygon": [{"X": 0.0, "Y": 0.0}, {"X": 1.0, "Y": 0.0}, {"X": 1.0, "Y": 1.0}, {"X": 0.0, "Y": 1.0}]}


def _reading_order(lines: list[tuple[list[list[float]], str, float, Any]]) -> list[Any]:
    """Top to bottom, then left to right among lines whose vertical centres are within half a line height."""
    def centre(line: Any) -> tuple[float, float, float]:
        ys = [p[1] for p in line[0]]
        xs = [p[0] for p in line[0]]
        return (min(ys) + max(ys)) / 2, min(xs), max(ys) - min(ys)

    ordered = sorted(lines, key=lambda line: centre(line)[0])
    rows: list[list[Any]] = []
    for line in ordered:
        y, _, h = centre(line)
        if rows and abs(centre(rows[-1][0])[0] - y) < max(h, centre(rows[-1][0])[2]) / 2:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=lambda line: centre(line)[1])]


def page_blocks(image: Any, page_number: int) -> list[dict[str, Any]]:
    """Textract blocks for one page image."""
    import numpy as np

    width, height = image.size
    scale = min(1.0, MAX_SIDE / max(width, height))
    if scale < 1.0:
        image = image.resize((int(width * scale), int(height * scale)))
        width, height = image.size
    with _lock:
        # No angle classifier: it turned some upright lines of rendered pages upside down (CER 10 % on a clean PDF).
        result = engine()(np.asarray(image), use_cls=False, return_word_box=True)
    page: dict[str, Any] = {"BlockType": "PAGE", "Id": str(uuid.uuid4()), "Geometry": _whole_page(),
                            "Page": page_number, "Relationships": [{"Type": "CHILD", "Ids": []}]}
    blocks = [page]
    if result.txts is None or result.boxes is None:
        return blocks
    words_per_line = result.word_results if len(result.word_results) == len(result.txts) else [None] * len(result.txts)
    lines = [(box.tolist(), text, float(score), words)
             for box, text, score, words in zip(result.boxes, result.txts, result.scores, words_per_line)]
    for box, text, score, words in _reading_order(lines):
        text = " ".join(text.split())
        if not text:
            continue
        line = {"BlockType": "LINE", "Id": str(uuid.uuid4()), "Confidence": round(score * 100, 3), "Text": text,
                "Geometry": _geometry(box, width, height), "Page": page_number,
                "Relationships": [{"Type": "CHILD", "Ids": []}]}
        page["Relationships"][0]["Ids"].append(line["Id"])
        blocks.append(line)
        for word_text, word_score, word_box in _words(text, score, box, words):
            word = {"BlockType": "WORD", "Id": str(uuid.uuid4()), "Confidence": round(word_score * 100, 3),
                    "Text": word_text, "TextType": "PRINTED", "Geometry": _geometry(word_box, width, height),
                    "Page": page_number}
            line["Relationships"][0]["Ids"].append(word["Id"])
            blocks.append(word)
    return blocks


def _words(text: str, score: float, box: list[list[float]], words: Any) -> list[tuple[str, float, list[list[float]]]]:
    """Words with their boxes: RapidOCR's word boxes when they match the line's words, else the line's box
    divided in proportion to each word's length."""
    tokens = text.split()
    if words:
        found = [(str(w[0]).strip(), float(w[1]), w[2]) for w in words if str(w[0]).strip() and w[2] is not None]
        if [w[0] for w in found] == tokens:
            return [(t, s, [list(map(float, p)) for p in b]) for t, s, b in found]
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = box[:4]
    total = sum(len(t) for t in tokens) + max(0, len(tokens) - 1)
    out, offset = [], 0
    for token in tokens:
        start, end = offset / total, (offset + len(token)) / total
        out.append((token, score, [[x0 + (x1 - x0) * start, y0 + (y1 - y0) * start],
                                   [x0 + (x1 - x0) * end, y0 + (y1 - y0) * end],
                                   [x3 + (x2 - x3) * end, y3 + (y2 - y3) * end],
                                   [x3 + (x2 - x3) * start, y3 + (y2 - y3) * start]]))
        offset += len(token) + 1
    return out


def detect_text(document: bytes) -> list[dict[str, Any]]:
    """Textract blocks for every page of an image or PDF."""
    # timed inside the turn: the engine's own time, not the wait for another item's engine
    with exclusive(priority=1, engine="ocr"), timed("ocr"):
        blocks: list[dict[str, Any]] = []
        for number, image in enumerate(pages(document), start=1):
            blocks.extend(page_blocks(image, number))
        if not blocks:
            raise EngineError("Request has unsupported document format: the document has no pages")
        return blocks


def text_of(blocks: list[dict[str, Any]]) -> str:
    return "\n".join(b["Text"] for b in blocks if b["BlockType"] == "LINE")
