"""Amazon Transcribe's content redaction, for the emulated Transcribe: the words of each PII entity in a transcript
(found by a Comprehend-shaped detector) become one item `[PII]` spanning the entity's time, with
`redactions: [{"type", "category": "PII", "confidence"}]`, and the transcript text is rebuilt from the items."""
from __future__ import annotations

import json
from typing import Any, Callable

Detector = Callable[[str], list[dict[str, Any]]]  # text -> Comprehend's Entities (Type, BeginOffset, EndOffset, Score)


def _content(item: dict[str, Any]) -> str:
    return (item.get("alternatives") or [{}])[0].get("content", "")


def _join(items: list[dict[str, Any]]) -> tuple[str, list[tuple[int, int]]]:
    """The items as one text (a space before each word, none before punctuation) and each item's span in it."""
    text, spans = "", []
    for item in items:
        if item.get("type") != "punctuation" and text:
            text += " "
        spans.append((len(text), len(text) + len(_content(item))))
        text += _content(item)
    return text, spans


def _redacted_item(item: dict[str, Any], entity: dict[str, Any]) -> dict[str, Any]:
    score = f"{float(entity.get('Score') or 0.99):.4f}"
    return {"type": "pronunciation", "start_time": item.get("start_time"), "end_time": item.get("end_time"),
            "alternatives": [{"confidence": score, "content": "[PII]", "redactions": [
                {"type": str(entity["Type"]), "category": "PII", "confidence": score}]}]}


def redact_items(items: list[dict[str, Any]], detect: Detector) -> list[dict[str, Any]]:
    """The items with each entity's words replaced by one `[PII]` item that lasts until its last word ends."""
    text, spans = _join(items)
    entities = detect(text)
    redacted: list[dict[str, Any]] = []
    started: set[int] = set()
    for item, (begin, end) in zip(items, spans):
        hit = next((i for i, e in enumerate(entities) if begin < e["EndOffset"] and e["BeginOffset"] < end), None)
        if hit is None:
            redacted.append(item)
        elif hit in started:
            redacted[-1]["end_time"] = item.get("end_time") or redacted[-1]["end_time"]
        else:
            started.add(hit)
            redacted.append(_redacted_item(item, entities[hit]))
    for index, item in enumerate(redacted):
        item["id"] = index
    return redacted


def redact_text(text: str, detect: Detector) -> str:
    out, cursor = [], 0
    for entity in sorted(detect(text), key=lambda e: e["BeginOffset"]):
        if entity["BeginOffset"] >= cursor:
            out += [text[cursor:entity["BeginOffset"]], "[PII]"]
            cursor = entity["EndOffset"]
    return "".join(out + [text[cursor:]])


def redact_transcript(output: dict[str, Any], detect: Detector) -> dict[str, Any]:
    """A redacted copy of Transcribe's output JSON."""
    output = json.loads(json.dumps(output))
    results = output.setdefault("results", {})
    items = results.get("items") or []
    if items:
        results["items"] = redact_items(items, detect)
        results["transcripts"] = [{"transcript": _join(results["items"])[0]}]
    else:
        results["transcripts"] = [{"transcript": redact_text(t.get("transcript", ""), detect)}
                                  for t in results.get("transcripts") or []]
    for segment in results.get("audio_segments") or []:
        segment["transcript"] = redact_text(segment.get("transcript", ""), detect)
        segment.pop("items", None)
    return output
