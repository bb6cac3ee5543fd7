"""What `process` prints on stdout: the results table and excerpts (progress is media_pipeline/cli/progress.py)."""
from __future__ import annotations

from typing import Any

from media_pipeline.cli.items import Item


def reason_or_title(manifest: dict[str, Any]) -> str:
    if manifest.get("status") == "FAILED":
        error = manifest.get("error") or {}
        return f"{error.get('code', '')}: {error.get('message', '')}"
    enrichment = manifest.get("enrichment") or {}
    if enrichment.get("title"):
        return str(enrichment["title"])
    warnings = manifest.get("warnings") or []
    return ", ".join(w["code"] for w in warnings) if warnings else ""


def results_table(items: list[Item]) -> str:
    rows = [("file", "media type", "status", "reason / title", "folder", "seconds")]
    for item in items:
        manifest = item.manifest or {}
        rows.append((item.label, manifest.get("media_type", "-"), manifest.get("status", item.state),
                     reason_or_title(manifest) if manifest else "no manifest", item.folder.as_posix() + "/",
                     f"{item.seconds:.1f}"))
    widths = [min(max(len(str(row[i])) for row in rows), cap) for i, cap in enumerate((36, 10, 9, 60, 30, 8))]
    lines = []
    for index, row in enumerate(rows):
        cells = [str(cell)[:width].ljust(width) for cell, width in zip(row, widths)]
        cells[-1] = str(row[-1]).rjust(widths[-1])
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def excerpts(items: list[Item], width: int = 400) -> str:
    """What came out of each item: the start of its transcript or text, and its summary."""
    blocks = []
    for item in items:
        manifest = item.manifest or {}
        if manifest.get("status") != "SUCCEEDED":
            continue
        text = (manifest.get("transcript") or {}).get("text") or (manifest.get("text") or {}).get("content") or ""
        text = " ".join(text.split())
        lines = [f"== {item.label} ({manifest.get('media_type')})"]
        label = "transcript" if "transcript" in manifest else "text"
        lines.append(f"{label}: {text[:width]}{'…' if len(text) > width else ''}" if text else f"{label}: (empty)")
        enrichment = manifest.get("enrichment") or {}
        if enrichment.get("summary"):
            lines.append(f"summary ({enrichment.get('model', '')}): {enrichment['summary']}")
            lines.append(f"keywords: {', '.join(enrichment.get('keywords') or [])}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)
