"""Textract's blocks to text per page: Textract's reading order where it gives one, else rows by geometry.

Plain logic, no AWS call: it reads the responses of DetectDocumentText and GetDocumentTextDetection.
"""
from __future__ import annotations

from typing import Any, Iterable

from media_pipeline.documents import TEXTRACT, PageText


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
