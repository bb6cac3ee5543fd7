import json

import pytest
from pathlib import Path

from media_pipeline import transcripts

DATA = Path(__file__).parent.parent / "data"


def load() -> dict:
    return json.loads((DATA / "transcribe-two-sentences.json").read_text())


def test_text_language_and_segments_come_from_transcribe_json():
    result = transcripts.parse_transcribe_json(load())
    assert result.text == "Welcome to the media pipeline. Uploads become transcripts, captions and summaries."
    assert result.language == "en-US"
    assert result.words == 11
    assert [(s.start, s.end, s.text) for s in result.segments] == [
        (0.04, 1.62, "Welcome to the media pipeline."),
        (2.9, 6.2, "Uploads become transcripts, captions and summaries."),
    ]


def test_captions_in_webvtt_and_srt():
    segments = transcripts.parse_transcribe_json(load()).segments
    assert transcripts.to_webvtt(segments).splitlines()[:4] == [
        "WEBVTT", "", "00:00:00.040 --> 00:00:01.620", "Welcome to the media pipeline."]
    assert transcripts.to_srt(segments).splitlines()[4:8] == [
        "2", "00:00:02,900 --> 00:00:06,200", "Uploads become transcripts,", "captions and summaries."]


def test_parts_are_joined_with_their_offsets():
    first = transcripts.parse_transcribe_json(load())
    second = transcripts.parse_transcribe_json(load(), offset_seconds=3600)
    joined = transcripts.join_parts([first, second])
    assert joined.words == 22
    assert joined.segments[2].start == 3600.04
    assert transcripts.to_srt(joined.segments).splitlines()[10] == "01:00:00,040 --> 01:00:01,620"


def test_silence_gives_an_empty_transcript():
    silent = {"results": {"transcripts": [{"transcript": ""}], "items": [], "language_code": "en-US"}}
    result = transcripts.parse_transcribe_json(silent)
    assert (result.text, result.segments, result.words) == ("", [], 0)
    assert transcripts.to_webvtt(result.segments) == "WEBVTT\n"


def test_long_speech_without_punctuation_is_cut_into_cues():
    items = [{"type": "pronunciation", "start_time": str(i * 0.5), "end_time": str(i * 0.5 + 0.4),
              "alternatives": [{"content": f"word{i}"}]} for i in range(60)]
    result = transcripts.parse_transcribe_json({"results": {"transcripts": [], "items": items}})
    assert len(result.segments) > 3
    assert all(s.end - s.start <= transcripts.MAX_CUE_SECONDS for s in result.segments)
    assert " ".join(s.text for s in result.segments) == " ".join(f"word{i}" for i in range(60))


# ---- captions to subtitle guidelines, on a talk's real transcript (tests/data/transcribe-talk.json: 2 minutes of
# speech heard by the offline engine; made by tests/data/speech/make_recordings.py --talk) --------------------------

def talk() -> dict:
    return json.loads((Path(__file__).resolve().parents[1] / "data" / "transcribe-talk.json").read_text())


def cues_of(captions: str, srt: bool) -> list[tuple[str, list[str]]]:
    """(timing line, text lines) per cue of a WebVTT or SRT document."""
    blocks = [b.splitlines() for b in captions.strip().split("\n\n")]
    if not srt:
        assert blocks[0] == ["WEBVTT"]
        blocks = blocks[1:]
    return [(b[1], b[2:]) if srt else (b[0], b[1:]) for b in blocks]


def seconds(stamp: str) -> float:
    hours, minutes, rest = stamp.replace(",", ".").split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(rest)


@pytest.mark.parametrize("srt", [False, True], ids=["webvtt", "srt"])
def test_talk_captions_follow_subtitle_guidelines(srt: bool) -> None:
    transcript = transcripts.parse_transcribe_json(talk())
    captions = (transcripts.to_srt if srt else transcripts.to_webvtt)(transcript.segments)
    cues = cues_of(captions, srt)
    assert len(cues) == len(transcript.segments) > 30
    lengths = [len(line) for _, lines in cues for line in lines]
    durations = []
    previous_end = 0.0
    for timing, lines in cues:
        start, end = (seconds(t) for t in timing.split(" --> "))
        assert start >= previous_end - 1e-6  # cues never overlap
        previous_end = end
        durations.append(end - start)
        assert 1 <= len(lines) <= 2 and all(line == line.strip() and line for line in lines)
    print(f"lines {len(lengths)}: max {max(lengths)} chars; cues {len(cues)}: "
          f"{min(durations):.2f}-{max(durations):.2f} s")
    assert max(lengths) <= 42
    assert max(durations) <= transcripts.MAX_CUE_SECONDS
    assert sum(d < 1.0 for d in durations) == 0
    # Every word is shown once, in order.
    shown = " ".join(" ".join(lines) for _, lines in cues)
    assert shown.split() == " ".join(s.text for s in transcript.segments).split()
    assert len(shown.split()) == len(transcript.text.split())


def test_a_long_sentence_is_split_at_its_comma() -> None:
    words = "When you upload a file, the pipeline stores it in a bucket and starts one workflow for each item".split()
    items = []
    for index, word in enumerate(words):
        content, comma = (word[:-1], True) if word.endswith(",") else (word, False)
        items.append({"type": "pronunciation", "start_time": f"{index * 0.3:.2f}", "end_time": f"{index * 0.3 + 0.25:.2f}",
                      "alternatives": [{"content": content}]})
        if comma:
            items.append({"type": "punctuation", "alternatives": [{"content": ","}]})
    segments = transcripts.parse_transcribe_json({"results": {"items": items}}).segments
    assert [s.text for s in segments][0] == "When you upload a file,"
    assert " ".join(s.text for s in segments[1:]) == " ".join(words[5:])
    assert all(len(line) <= 42 for s in segments for line in transcripts.caption_lines(s.text))


def test_caption_lines_are_balanced_and_prefer_punctuation() -> None:
    assert transcripts.caption_lines("Short enough.") == ["Short enough."]
    assert transcripts.caption_lines("Uploads become transcripts, captions and summaries.") == [
        "Uploads become transcripts,", "captions and summaries."]
    lines = transcripts.caption_lines("a " * 40)
    assert len(lines) == 2 and all(len(line) <= 42 for line in lines)


def test_a_short_cue_stays_on_screen_a_second_unless_the_next_begins() -> None:
    items = [{"type": "pronunciation", "start_time": "0.0", "end_time": "0.3", "alternatives": [{"content": "Yes"}]},
             {"type": "punctuation", "alternatives": [{"content": "."}]},
             {"type": "pronunciation", "start_time": "0.5", "end_time": "0.8", "alternatives": [{"content": "No"}]},
             {"type": "punctuation", "alternatives": [{"content": "."}]}]
    segments = transcripts.parse_transcribe_json({"results": {"items": items}}).segments
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 0.5, "Yes."), (0.5, 1.5, "No.")]
