"""Amazon Transcribe's JSON → plain text, timed segments, WebVTT and SRT."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable

# Captions follow common subtitle guidelines (BBC, Netflix): at most 2 lines of at most 42 characters a cue, cues
# of about 1 to 7 seconds, ended at a sentence end or a pause, else split at a clause's punctuation or between words.
PAUSE_SECONDS = 0.8
MAX_CUE_SECONDS = 7.0
MIN_CUE_SECONDS = 1.0
MAX_LINE_CHARS = 42
MAX_LINES = 2
SENTENCE_END = {".", "?", "!", "。", "？", "！"}
CLAUSE_END = {",", ";", ":", "，", "、"}


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


def caption_lines(text: str, width: int = MAX_LINE_CHARS) -> list[str]:
    """`text` as one line, or two balanced lines of at most `width` characters (broken after punctuation when it can);
    more lines only for text that two cannot hold."""
    if len(text) <= width:
        return [text]
    words = text.split(" ")
    best: tuple[float, list[str]] | None = None
    for cut in range(1, len(words)):
        first, second = " ".join(words[:cut]), " ".join(words[cut:])
        if len(first) > width or len(second) > width:
            continue
        # Balanced lines read best; a break after a clause's punctuation is worth a few characters of balance.
        cost = abs(len(first) - len(second)) - (8 if first[-1] in CLAUSE_END | SENTENCE_END else 0)
        if best is None or cost < best[0]:
            best = (cost, [first, second])
    if best is not None:
        return best[1]
    lines: list[str] = []  # too long for two lines (only a cue of one very long word gets here): greedy wrap
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def fits_a_cue(text: str) -> bool:
    return len(caption_lines(text)) <= MAX_LINES


class _Cues:
    """Transcribe's items gathered into caption cues, each with the exact times of its words."""

    def __init__(self, offset_seconds: float):
        self.offset = offset_seconds
        self.segments: list[Segment] = []
        self.words = 0
        self._tokens: list[tuple[str, str, float | None, float | None, str | None]] = []  # kind, text, start, end, speaker

    def punctuation(self, content: str) -> None:
        if self._tokens:
            self._tokens.append(("punctuation", content, None, None, None))
            if content in SENTENCE_END:
                self.close()

    def word(self, item: dict[str, Any], content: str) -> None:
        start, end = float(item["start_time"]), float(item["end_time"])
        if self._tokens:
            last_end = self._last_end()
            if start - last_end >= PAUSE_SECONDS:
                self.close()
            elif (end - self._first_start() > MAX_CUE_SECONDS
                  or not fits_a_cue(_join([(k, c) for k, c, *_ in self._tokens] + [("pronunciation", content)]))):
                self._break()
        self._tokens.append(("pronunciation", content, start, end, item.get("speaker_label")))
        self.words += 1

    def _first_start(self) -> float:
        return next(t[2] for t in self._tokens if t[2] is not None)

    def _last_end(self) -> float:
        return next(t[3] for t in reversed(self._tokens) if t[3] is not None)

    def _break(self) -> None:
        """End the cue before the next word: at its last clause punctuation when that keeps the cue readable
        (at least a quarter of it and a second long), carrying the words after it to the next cue."""
        start = self._first_start()
        length = len(_join([(k, c) for k, c, *_ in self._tokens]))
        for index in range(len(self._tokens) - 2, 0, -1):
            kind, content = self._tokens[index][:2]
            if kind != "punctuation" or content not in CLAUSE_END:
                continue
            head = self._tokens[:index + 1]
            ends = [t[3] for t in head if t[3] is not None]
            if len(_join([(k, c) for k, c, *_ in head])) * 4 >= length and ends and ends[-1] - start >= MIN_CUE_SECONDS:
                tail = self._tokens[index + 1:]
                self._tokens = head
                self.close()
                self._tokens = tail
                return
            break
        self.close()

    def close(self) -> None:
        words = [t for t in self._tokens if t[0] == "pronunciation"]
        if words:
            self.segments.append(Segment(round(words[0][2] + self.offset, 3), round(words[-1][3] + self.offset, 3),
                                         _join([(k, c) for k, c, *_ in self._tokens]), words[0][4]))
        self._tokens = []

    def finish(self) -> list[Segment]:
        """Close the last cue; a cue shorter than MIN_CUE_SECONDS stays on screen longer, up to the next one."""
        self.close()
        for index, segment in enumerate(self.segments):
            following = self.segments[index + 1].start if index + 1 < len(self.segments) else None
            wanted = segment.start + MIN_CUE_SECONDS
            if segment.end < wanted:
                segment.end = round(min(wanted, following) if following is not None else wanted, 3)
        return self.segments


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
    segments = cues.finish()
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
        lines.extend(caption_lines(segment.text))
        lines.append("")
    return "\n".join(lines)


def to_srt(segments: list[Segment]) -> str:
    lines: list[str] = []
    for number, segment in enumerate(segments, start=1):
        lines.append(str(number))
        lines.append(f"{_timestamp(segment.start, ',')} --> {_timestamp(segment.end, ',')}")
        lines.extend(caption_lines(segment.text))
        lines.append("")
    return "\n".join(lines)


def segments_as_dicts(segments: list[Segment]) -> list[dict[str, Any]]:
    return [asdict(s) for s in segments]
