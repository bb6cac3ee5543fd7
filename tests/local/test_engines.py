"""The offline engines: accuracy on the bundled samples, output shapes, and the extractive stand-in's honesty."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_pipeline.local import quality
from media_pipeline.local.engines import extractive

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def expected(stem: str) -> str:
    return (SAMPLES / "expected" / f"{stem}.txt").read_text()


# ---- quality measures (fast) ------------------------------------------------------------------------------------

def test_error_rates() -> None:
    assert quality.word_error_rate("the cat sat", "the cat sat") == 0
    assert quality.word_error_rate("the cat sat", "the bat sat down") == pytest.approx(2 / 3)
    assert quality.word_error_rate("Hello, World!", "hello world") == 0
    assert quality.character_error_rate("abcd", "abed") == pytest.approx(1 / 4)
    assert quality.word_error_rate("twelve sites", "12 sites") == 0


# ---- extractive stand-in (fast) ------------------------------------------------------------------------------------

def converse(text: str) -> dict:
    from media_pipeline.enrichment import _resource, parse_model_json

    prompt = _resource("prompts/enrichment.txt").format(part_description="the full text", text=text)
    reply = extractive.converse([{"role": "user", "content": [{"text": prompt}]}], [], {"maxTokens": 800})
    return parse_model_json(reply)  # the pipeline's own schema check


@pytest.mark.parametrize("stem", ["speech", "scanned-page", "two-page-report", "video-with-speech"])
def test_extractive_answer_is_valid_and_only_uses_the_text(stem: str) -> None:
    text = expected(stem)
    answer = converse(text)
    normalised = quality.normalise(text)
    assert 3 <= len(answer["keywords"]) <= 8
    assert all(quality.normalise(k) in normalised for k in answer["keywords"])
    assert quality.normalise(answer["title"]) in normalised and len(answer["title"].split()) <= 12
    for sentence in extractive.sentences_of(answer["summary"]):
        assert quality.normalise(sentence) in normalised  # every summary sentence is the text's own


def test_extractive_uses_a_heading_as_title() -> None:
    assert converse(expected("two-page-report"))["title"] == "Annual Library Review"


def test_extractive_handles_short_and_empty_texts() -> None:
    assert converse("Hello there.")["summary"] == "Hello there."
    answer = json.loads(extractive.converse([{"role": "user", "content": [{"text": "<text>\n</text>"}]}], [], {}))
    assert answer["keywords"] == [] and answer["title"]


def test_textrank_prefers_central_sentences() -> None:
    sentences = ["Rivers carry water to the sea.", "The sea holds water from many rivers.",
                 "My cat likes fish.", "Rivers and the sea exchange water."]
    scores = extractive.textrank(sentences)
    assert scores.index(min(scores)) == 2


# ---- speech and OCR (slow: they run the models) -----------------------------------------------------------------

@pytest.mark.slow
def test_speech_model_files_match_their_hashes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from media_pipeline.local.engines import speech

    assert speech.verify_model(spec=speech.BASE).is_dir()
    assert speech.verify_model(spec=speech.TINY_EN).is_dir()
    # A joined copy whose bytes changed is refused, not loaded.
    joined = speech.model_directory(speech.BASE)
    for name in speech.BASE.sha256:
        (tmp_path / name).write_bytes((joined / name).read_bytes() if name != "model.bin" else b"other weights")
    with pytest.raises(speech.ModelIntegrityError, match="model.bin has SHA-256"):
        speech.verify_model(tmp_path, speech.BASE)


@pytest.mark.slow
def test_speech_word_error_rate_on_the_sample() -> None:
    from media_pipeline.local.engines import speech

    output = speech.transcribe((SAMPLES / "speech.flac").read_bytes(), None)
    results = output["results"]
    text = results["transcripts"][0]["transcript"]
    wer = quality.word_error_rate(expected("speech"), text)
    print(f"WER speech.flac: {wer:.3f}")
    assert wer <= 0.10
    assert results["language_code"] == "en-US" and results["language_identification_score"] > 0.5
    words = [i for i in results["items"] if i["type"] == "pronunciation"]
    assert all(float(w["start_time"]) <= float(w["end_time"]) for w in words)
    assert float(words[-1]["end_time"]) > 20  # the clip is about 26 s long
    assert any(i["type"] == "punctuation" and "start_time" not in i for i in results["items"])


@pytest.mark.slow
def test_speech_from_the_video_sample() -> None:
    from media_pipeline.local.engines import speech

    output = speech.transcribe((SAMPLES / "video-with-speech.mp4").read_bytes(), "en-US")
    wer = quality.word_error_rate(expected("video-with-speech"), output["results"]["transcripts"][0]["transcript"])
    print(f"WER video-with-speech.mp4: {wer:.3f}")
    assert wer <= 0.15


@pytest.mark.slow
def test_speech_rejects_what_it_cannot_do() -> None:
    from media_pipeline.local.engines import speech

    with pytest.raises(ValueError, match="Unsupported language code xx-XX"):
        speech.transcribe(b"", "xx-XX")
    with pytest.raises(ValueError, match="could not be decoded|no audio"):
        speech.transcribe(b"not audio at all" * 100, None)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_speech_invents_nothing_from_silence_or_noise(kind: str) -> None:
    from benchmarks.speech_accuracy import noise, silence
    from media_pipeline.local.engines import speech

    audio = silence(30) if kind == "silence" else noise(30)
    # Asked for English: an empty transcript, as Transcribe gives (Whisper alone says "You").
    results = speech.transcribe(audio, "en-US")["results"]
    assert (results["transcripts"][0]["transcript"], results["items"]) == ("", [])
    # Asked to identify the language: no speech, no language (the pipeline records NO_SPEECH_DETECTED).
    with pytest.raises(ValueError, match="no speech was detected"):
        speech.transcribe(audio, None)


@pytest.mark.slow
def test_ocr_character_error_rate_on_the_scanned_page() -> None:
    from media_pipeline.local.engines import ocr

    blocks = ocr.detect_text((SAMPLES / "scanned-page.png").read_bytes())
    cer = quality.character_error_rate(expected("scanned-page"), ocr.text_of(blocks))
    print(f"CER scanned-page.png: {cer:.4f}")
    assert cer <= 0.02
    page = blocks[0]
    assert page["BlockType"] == "PAGE" and page["Page"] == 1
    by_id = {b["Id"]: b for b in blocks}
    lines = [by_id[i] for i in page["Relationships"][0]["Ids"]]
    assert lines[0]["Text"] == "Quarterly Field Report"
    for line in lines:
        words = [by_id[i] for i in line["Relationships"][0]["Ids"]]
        assert " ".join(w["Text"] for w in words) == line["Text"]
        for block in [line, *words]:
            box = block["Geometry"]["BoundingBox"]
            assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and 0 < box["Width"] <= 1
            assert len(block["Geometry"]["Polygon"]) == 4 and 0 <= block["Confidence"] <= 100


@pytest.mark.slow
def test_ocr_reads_every_pdf_page() -> None:
    from media_pipeline.local.engines import ocr

    blocks = ocr.detect_text((SAMPLES / "two-page-report.pdf").read_bytes())
    assert sorted({b["Page"] for b in blocks}) == [1, 2]
    cer = quality.character_error_rate(expected("two-page-report"), ocr.text_of(blocks))
    print(f"CER two-page-report.pdf (OCR of the rendered pages): {cer:.4f}")
    assert cer <= 0.02


@pytest.mark.slow
def test_ocr_refuses_what_is_not_a_document() -> None:
    from media_pipeline.local.engines import ocr
    from media_pipeline.local.moto_gaps import EngineError

    with pytest.raises(EngineError):
        ocr.detect_text(b"\x00\x01 random bytes" * 50)


@pytest.mark.slow
def test_an_ocr_turn_parks_the_speech_model_and_the_next_transcription_loads_it_again(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from media_pipeline.local.engines import ocr, speech

    monkeypatch.delenv("MEDIA_PIPELINE_KEEP_MODELS", raising=False)
    audio = (SAMPLES / "speech.flac").read_bytes()
    first = speech.transcribe(audio, "en-US")["results"]["transcripts"][0]["transcript"]
    assert speech._load.cache_info().currsize == 1
    text = ocr.text_of(ocr.detect_text((SAMPLES / "scanned-page.png").read_bytes()))
    assert "Quarterly" in text
    assert speech._load.cache_info().currsize == 0  # parked during OCR's turn
    again = speech.transcribe(audio, "en-US")["results"]["transcripts"][0]["transcript"]
    assert again == first and speech._load.cache_info().currsize == 1
