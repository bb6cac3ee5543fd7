import json
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
    assert transcripts.to_srt(segments).splitlines()[4:7] == [
        "2", "00:00:02,900 --> 00:00:06,200", "Uploads become transcripts, captions and summaries."]


def test_parts_are_joined_with_their_offsets():
    first = transcripts.parse_transcribe_json(load())
    second = transcripts.parse_transcribe_json(load(), offset_seconds=3600)
    joined = transcripts.join_parts([first, second])
    assert joined.words == 22
    assert joined.segments[2].start == 3600.04
    assert transcripts.to_srt(joined.segments).splitlines()[9] == "01:00:00,040 --> 01:00:01,620"


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
