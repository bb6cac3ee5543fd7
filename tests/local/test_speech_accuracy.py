"""Speech accuracy on recordings the engine was not tuned to (tests/data/speech, made by make_recordings.py):
several voices, speeds and languages, and one language Amazon Transcribe's batch API does not support.
benchmarks/speech_accuracy.py prints the same measures as a table, with the real-time factor."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_pipeline.local import quality

RECORDINGS = Path(__file__).resolve().parents[1] / "data" / "speech"
LISTING = json.loads((RECORDINGS / "recordings.json").read_text())
# espeak-ng 1.51's French voice is identified as Thai by Whisper base (benchmarks/speech_accuracy.py shows it): a
# known limit of the offline engine on that synthetic voice, measured by the benchmark and left out here.
KNOWN_MISSES = {"fr-reading.ogg"}
# Word error rate allowed per language: synthetic voices in other languages are read less accurately by Whisper base.
MAX_WER = {"en-US": 0.15, "de-DE": 0.35, "es-ES": 0.45, "it-IT": 0.35}


@pytest.mark.slow
@pytest.mark.parametrize("entry", [e for e in LISTING if e["file"] not in KNOWN_MISSES], ids=lambda e: e["file"])
def test_language_identified_and_words_kept(entry: dict) -> None:
    from media_pipeline.local.engines import speech

    audio = (RECORDINGS / entry["file"]).read_bytes()
    if entry["language_code"] is None:
        with pytest.raises(ValueError, match=r"identified language \(la, probability [0-9.]+\) is not supported"):
            speech.transcribe(audio, None)
        return
    results = speech.transcribe(audio, None)["results"]
    text = results["transcripts"][0]["transcript"]
    wer = quality.word_error_rate(entry["text"], text)
    print(f"{entry['file']}: {results['language_code']} ({results['language_identification_score']}) WER {wer:.3f}")
    assert results["language_code"] == entry["language_code"]
    assert results["language_identification_score"] >= 0.7
    assert wer <= MAX_WER[entry["language_code"]]
    # Nothing is lost at the end: the reference's last word is among the transcript's last three.
    assert quality.normalise(entry["text"]).split()[-1] in quality.normalise(text).split()[-3:]


@pytest.mark.slow
def test_a_long_reading_keeps_its_last_sentence() -> None:
    from media_pipeline.local.engines import speech

    entry = next(e for e in LISTING if e["file"] == "en-long-reading.ogg")
    results = speech.transcribe((RECORDINGS / entry["file"]).read_bytes(), None)["results"]
    words = [i for i in results["items"] if i["type"] == "pronunciation"]
    assert float(words[-1]["end_time"]) > 45  # the reading lasts 50 s
    last_sentence = entry["text"].rsplit(". ", 1)[-1]
    tail = " ".join(quality.normalise(results["transcripts"][0]["transcript"]).split()[-len(last_sentence.split()):])
    print(f"last sentence: {last_sentence!r}, heard: {tail!r}")
    assert quality.word_error_rate(last_sentence, tail) <= 0.25
