"""Amazon Transcribe's JSON → plain text, timed segments, WebVTT and SRT."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

# A caption cue ends at a sentence end, at a pause this long, or when it gets this long.
PAUSE_SECONDS = 0.8
MAX_CUE_SECONDS = 7.0
MAX_CUE_CHARS = 84
SENTENCE_END = {".", "?", "!"}


@dataclass
class Segment:
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass
class Transcript:
    text: str
    language: str | None
    segments: list[Segment]
    words: int
    duration_seconds: float | None


def _join(tokens: Iterable[tuple[str, str]]) -> str:
    out = ""
    for kind, content in tokens:
        if kind == "punctuation" or not out:
            out += content
        else:
            out += " " + content
    return out.strip()


def parse_transcribe_json(document: dict[str, Any], *, offset_seconds: float = 0.0) -> Transcript:
    """Read Transcribe's output. Segments are built from the items so they carry exact times."""
    results = document.get("results") or {}
    items = results.get("items") or []
    language = results.get("language_code") or document.get("language_code")
    segments: list[Segment] = []
    current: list[tuple[str, str]] = []
    start = end = None
    speaker = None
    words = 0

    def close() -> None:
        nonlocal current, start, end
        if current and start is not None and end is not None:
            segments.append(Segment(round(start + offset_seconds, 3), round(end + offset_seconds, 3), _join(current), speaker))
        current, start, end = [], None, None

    for item in items:
        alternatives = item.get("alternatives") or [{}]
        content = alternatives[0].get("content", "")
        if item.get("type") == "punctuation":
            if current:
                current.append(("punctuation", content))
                if content in SENTENCE_END:
                    close()
            continue
        item_start, item_end = float(item["start_time"]), float(item["end_time"])
        if current and end is not None and (
            item_start - end >= PAUSE_SECONDS
            or item_end - (start or item_start) > MAX_CUE_SECONDS
            or len(_join(current)) + len(content) + 1 > MAX_CUE_CHARS
        ):
            close()
        if start is None:
            start = item_start
            speaker = item.get("speaker_label")
        end = item_end
        current.append(("pronunciation", content))
        words += 1
    close()

    transcripts = results.get("transcripts") or []
    text = " ".join(t.get("transcript", "") for t in transcripts).strip()
    if not text and segments:
        text = " ".join(s.text for s in segments)
    duration = segments[-1].end if segments else None
    return Transcript(text=text, language=language, segments=segments, words=words, duration_seconds=duration)


def join_parts(parts: list[Transcript]) -> Transcript:
    """Join transcripts of consecutive parts of one media (already offset when parsed)."""
    if len(parts) == 1:
        return parts[0]
    segments = [s for p in parts for s in p.segments]
    languages = [p.language for p in parts if p.language]
    durations = [p.duration_seconds for p in parts if p.duration_seconds is not None]
    return Transcript(
        text=" ".join(p.text for p in parts if p.text).strip(),
        language=languages[0] if languages else None,
        segments=segments,
        words=sum(p.words for p in parts),
        duration_seconds=max(durations) if durations else None,
    )


def _timestamp(seconds: float, separator: str) -> str:
    millis = int(round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def to_webvtt(segments: list[Segment]) -> str:
    lines = ["WEBVTT", ""]
    for segment in segments:
        lines.append(f"{_timestamp(segment.start, '.')} --> {_timestamp(segment.end, '.')}")
        lines.append(segment.text)
        lines.append("")
    return "\n".join(lines)


def to_srt(segments: list[Segment]) -> str:
    lines: list[str] = []
    for number, segment in enumerate(segments, start=1):
        lines.append(str(number))
        lines.append(f"{_timestamp(segment.start, ',')} --> {_timestamp(segment.end, ',')}")
        lines.append(segment.text)
        lines.append("")
    return "\n".join(lines)


def segments_as_dicts(segments: list[Segment]) -> list[dict[str, Any]]:
    return [asdict(s) for s in segments]
