"""Offline speech accuracy: word error rate, language identified and real-time factor, per recording and set-up.

    python benchmarks/speech_accuracy.py [--json] [--setups before,tiny.en+vad,after]

Recordings: the bundled samples (samples/speech.flac, samples/video-with-speech.mp4), the recordings in
tests/data/speech/ (several espeak-ng voices, speeds and languages; recordings.json holds their texts), and 30 s of
silence and 30 s of white noise made here (their reference is no text at all). The set-ups, run one after the
other on the same machine in one run:
- before: Whisper tiny.en, VAD off, English forced (the offline engine as it was);
- tiny.en+vad: tiny.en with today's decoding (VAD, no-speech thresholds), English forced;
- after: Whisper base multilingual with today's decoding, language identified (the default engine).
Real-time factor = (decode + recognition seconds) / audio seconds, after one untimed warm-up call.
A failure (the engine refusing the audio, e.g. an unsupported language or no speech) is reported as its reason.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import time
import wave
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline.local import quality  # noqa: E402
from media_pipeline.local.engines import speech  # noqa: E402

RECORDINGS = ROOT / "tests" / "data" / "speech"
BEFORE = {"beam_size": 5, "word_timestamps": True, "vad_filter": False, "condition_on_previous_text": False}
SETUPS = {
    "before": (speech.TINY_EN, BEFORE, "en-US"),
    "tiny.en+vad": (speech.TINY_EN, speech.DECODING, "en-US"),
    "after": (speech.BASE, speech.DECODING, None),
}


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return out.getvalue()


def silence(seconds: float = 30.0) -> bytes:
    return wav_bytes(np.zeros(int(seconds * 16000), dtype=np.float32))


def noise(seconds: float = 30.0, level: float = 0.1) -> bytes:
    return wav_bytes(np.random.default_rng(7).normal(0, level, int(seconds * 16000)).astype(np.float32))


def recordings() -> list[dict]:
    """name, audio bytes, reference text, the Transcribe language code expected (None: unsupported or no speech)."""
    found = [{"name": "samples/speech.flac", "audio": (ROOT / "samples" / "speech.flac").read_bytes(),
              "text": (ROOT / "samples" / "expected" / "speech.txt").read_text(), "language": "en-US"},
             {"name": "samples/video-with-speech.mp4", "audio": (ROOT / "samples" / "video-with-speech.mp4").read_bytes(),
              "text": (ROOT / "samples" / "expected" / "video-with-speech.txt").read_text(), "language": "en-US"}]
    for entry in json.loads((RECORDINGS / "recordings.json").read_text()):
        found.append({"name": entry["file"], "audio": (RECORDINGS / entry["file"]).read_bytes(), "text": entry["text"],
                      "language": entry["language_code"]})
    found.append({"name": "silence-30s", "audio": silence(), "text": "", "language": None})
    found.append({"name": "noise-30s", "audio": noise(), "text": "", "language": None})
    return found


def duration(audio: bytes) -> float:
    from faster_whisper import decode_audio

    return len(decode_audio(io.BytesIO(audio), sampling_rate=16000)) / 16000


def measure(setup: str, recording: dict) -> dict:
    spec, decoding, forced = SETUPS[setup]
    language = forced if forced or spec.english_only else None
    row = {"setup": setup, "recording": recording["name"], "expected_language": recording["language"]}
    started = time.perf_counter()
    try:
        results = speech.run(recording["audio"], language, spec, decoding)["results"]
    except ValueError as exc:
        row.update(seconds=round(time.perf_counter() - started, 2), failed=str(exc), text="", language=None,
                   score=None, wer=quality.word_error_rate(recording["text"], "") if recording["text"] else 0.0)
        return row
    text = results["transcripts"][0]["transcript"]
    row.update(seconds=round(time.perf_counter() - started, 2), text=text, language=results.get("language_code"),
               score=results.get("language_identification_score"), failed=None,
               wer=round(quality.word_error_rate(recording["text"], text), 3))
    return row


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--json", action="store_true", help="print the rows as JSON")
    options.add_argument("--setups", default=",".join(SETUPS), help="comma-separated: " + ", ".join(SETUPS))
    args = options.parse_args()
    chosen = [s.strip() for s in args.setups.split(",") if s.strip()]
    items = recordings()
    seconds = {r["name"]: duration(r["audio"]) for r in items}
    rows = []
    for setup in chosen:
        measure(setup, items[0])  # warm-up: model load and first-call compilation are not the recording's
        for recording in items:
            row = measure(setup, recording)
            row["audio_seconds"] = round(seconds[recording["name"]], 1)
            row["rtf"] = round(row["seconds"] / seconds[recording["name"]], 3)
            rows.append(row)
    if args.json:
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return 0
    print(f"{'setup':<12} {'recording':<30} {'audio s':>7} {'expected':>8} {'language':>9} {'score':>6} "
          f"{'WER':>6} {'RTF':>6}  note")
    for row in rows:
        note = row["failed"] or row["text"][-60:]
        print(f"{row['setup']:<12} {row['recording']:<30} {row['audio_seconds']:>7} {row['expected_language'] or '-':>8} "
              f"{row['language'] or '-':>9} {row['score'] if row['score'] is not None else '-':>6} "
              f"{row['wer']:>6.3f} {row['rtf']:>6.3f}  {note}")
    for setup in chosen:
        mine = [r for r in rows if r["setup"] == setup and r["expected_language"] == "en-US"]
        speech_seconds = sum(r["audio_seconds"] for r in mine)
        print(f"{setup}: English recordings mean WER {sum(r['wer'] for r in mine) / len(mine):.3f}, "
              f"RTF {sum(r['seconds'] for r in mine) / speech_seconds:.3f} over {speech_seconds:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
