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


class _Cues:
    """Transcribe's items gathered into caption-sized segments, each with the exact times of its words."""

    def __init__(self, offset_seconds: float):
        self.offset = offset_seconds
        self.segments: list[Segment] = []
        self.words = 0
        self._tokens: list[tuple[str, str]] = []
        self._start: float | None = None
        self._end: float | None = None
        self._speaker: str | None = None

    def punctuation(self, content: str) -> None:
        if self._tokens:
            self._tokens.append(("punctuation", content))
            if content in SENTENCE_END:
                self.close()

    def word(self, item: dict[str, Any], content: str) -> None:
        start, end = float(item["start_time"]), float(item["end_time"])
        if self._tokens and self._ends_before(start, end, content):
            self.close()
        if self._start is None:
            self._start, self._speaker = start, item.get("speaker_label")
        self._end = end
        self._tokens.append(("pronunciation", content))
        self.words += 1

    def _ends_before(self, start: float, end: float, content: str) -> bool:
        """A cue ends at a pause, when it would last too long, or when it would get too long to read."""
        if self._end is None:
            return False
        return (start - self._end >= PAUSE_SECONDS or end - (self._start or start) > MAX_CUE_SECONDS
                or len(_join(self._tokens)) + len(content) + 1 > MAX_CUE_CHARS)

    def close(self) -> None:
        if self._tokens and self._start is not None and self._end is not None:
            self.segments.append(Segment(round(self._start + self.offset, 3), round(self._end + self.offset, 3),
                                         _join(self._tokens), self._speaker))
        self._tokens, self._start, self._end = [], None, None


def parse_transcribe_json(document: dict[str, Any], *, offset_seconds: float = 0.0) -> Transcript:
    """Read Transcribe's output. Segments are built from the items so they carry exact times."""
    results = document.get("results") or {}
    cues = _Cues(offset_seconds)
    for item in results.get("items") or []:
        content = (item.get("alternatives") or [{}])[0].get("content", "")
        if item.get("type") == "punctuation":
            cues.punctuation(content)
        else:
            cues.word(item, content)
    cues.close()
    segments = cues.segments
    text = " ".join(t.get("transcript", "") for t in results.get("transcripts") or []).strip()
    if not text and segments:
        text = " ".join(s.text for s in segments)
    return Transcript(text=text, language=results.get("language_code") or document.get("language_code"),
                      segments=segments, words=cues.words, duration_seconds=segments[-1].end if segments else None)


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
