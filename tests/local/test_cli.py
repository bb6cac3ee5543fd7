"""End to end through the `media-pipeline` command, offline, with the real engines (slow): every sample, bad
inputs that must each end with a FAILED manifest and a reason while the run goes on, and the Fargate route."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from media_pipeline.local import moto_gaps, quality, runtime
from tests.local.test_runtime import fake_transcribe

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
pytestmark = pytest.mark.slow


def bad_inputs(folder: Path) -> dict[str, str]:
    """File → the reason code its manifest must carry."""
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "random.mp3").write_bytes(bytes(range(256)) * 40)
    (folder / "truncated.mp4").write_bytes((SAMPLES / "video-with-speech.mp4").read_bytes()[:20000])
    shutil.copy(sys.executable, folder / "program.mp3")  # an executable renamed
    with zipfile.ZipFile(folder / "archive.mp4", "w") as archive:  # a container no path supports
        archive.writestr("notes.txt", "not a video")
    return {"empty.wav": "EMPTY_OBJECT", "random.mp3": "UNSUPPORTED_MEDIA_TYPE", "truncated.mp4": "CORRUPT_MEDIA",
            "program.mp3": "UNSUPPORTED_MEDIA_TYPE", "archive.mp4": "UNSUPPORTED_MEDIA_TYPE"}


def test_process_every_sample_and_bad_inputs(tmp_path: Path) -> None:
    samples = sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.suffix not in (".py", ".md"))
    expected_codes = bad_inputs(tmp_path / "bad")
    inputs = [str(p) for p in samples] + [str(tmp_path / "bad" / name) for name in sorted(expected_codes)]
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", *inputs, "--json", "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    manifests = json.loads(run.stdout)  # stdout holds exactly one JSON array
    by_input = {m["source"]["uri"]: m for m in manifests}
    assert set(by_input) == set(inputs)
    print(run.stderr[-1500:])

    for sample in samples:
        manifest = by_input[str(sample)]
        assert manifest["status"] == "SUCCEEDED", manifest
        assert manifest["enrichment"]["model"] == "local.extractive-textrank-yake"
        assert (out / sample.stem / "manifest.json").is_file()
    speech = by_input[str(SAMPLES / "speech.flac")]
    wer = quality.word_error_rate((SAMPLES / "expected" / "speech.txt").read_text(), speech["transcript"]["text"])
    assert wer <= 0.10
    assert (out / "speech" / "captions.vtt").read_text().startswith("WEBVTT")
    page_text = (out / "scanned-page" / "text.txt").read_text()
    assert quality.character_error_rate((SAMPLES / "expected" / "scanned-page.txt").read_text(), page_text) <= 0.02
    report_text = (out / "two-page-report" / "text.txt").read_text()
    assert quality.character_error_rate((SAMPLES / "expected" / "two-page-report.txt").read_text(), report_text) <= 0.02
    assert by_input[str(SAMPLES / "video-with-speech.mp4")]["video"]["poster"]

    for name, code in expected_codes.items():
        manifest = by_input[str(tmp_path / "bad" / name)]
        assert manifest["status"] == "FAILED" and manifest["error"]["code"] == code, manifest


def test_process_prints_a_table_without_json(tmp_path: Path) -> None:
    audio = tmp_path / "speech.flac"
    shutil.copy(SAMPLES / "speech.flac", audio)
    run = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", str(audio), "--out", str(tmp_path / "o")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "SUCCEEDED" in run.stdout and "Welcome to the" in run.stdout and "1 of 1 items" in run.stdout


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    from media_pipeline import cli

    assert cli.main(["process", str(tmp_path / "nope.wav")]) == 2


def test_long_video_route_runs_the_worker_as_a_local_process() -> None:
    """VIDEO_LAMBDA_MAX_SECONDS=0 sends the video to the Fargate route: ECS RunTask starts worker.py as a process."""
    from media_pipeline.local.engines import extractive

    with runtime.LocalPipeline(mode="server", engines=False, environment={"VIDEO_LAMBDA_MAX_SECONDS": "0"}) as local:
        moto_gaps.install_ai_engines(transcribe=fake_transcribe, bedrock=extractive.converse)
        manifest = local.process(SAMPLES / "video-with-speech.mp4", timeout=180)
        assert manifest["status"] == "SUCCEEDED", manifest
        assert manifest["video"]["route"] == "fargate" and manifest["video"]["poster"]
        tasks = local.client("ecs").list_tasks(cluster=local.substitutions["MediaWorkerClusterArn"],
                                               desiredStatus="STOPPED")["taskArns"]
        assert len(tasks) == 1


def test_redact_pii_turns_the_step_on_offline(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", str(SAMPLES / "contact-details.pdf"),
                          "--redact-pii", "--json", "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    [manifest] = json.loads(run.stdout)
    assert manifest["pii"]["redacted"] is True and manifest["pii"]["source"] == "comprehend"
    assert manifest["pii"]["entity_counts"] == {"CREDIT_DEBIT_NUMBER": 1, "EMAIL": 1,
                                                "INTERNATIONAL_BANK_ACCOUNT_NUMBER": 1, "PHONE": 1}
    [redacted] = out.rglob("text.redacted.txt")
    text = redacted.read_text()
    assert "jane.example@example.com" not in text and "[EMAIL]" in text
    assert "4111 1111 1111 1112" in text  # fails the Luhn check: not a card number


def test_speech_languages_silence_and_noise_end_to_end(tmp_path: Path) -> None:
    """Identified languages with their codes, an unsupported one FAILED with a reason, silence and noise empty."""
    from benchmarks.speech_accuracy import noise, silence

    recordings = ROOT / "tests" / "data" / "speech"
    (tmp_path / "silence.wav").write_bytes(silence(30))
    (tmp_path / "noise.wav").write_bytes(noise(30))
    inputs = [str(recordings / name) for name in ("de-reading.ogg", "es-reading.ogg", "it-reading.ogg",
                                                  "la-reading.ogg")] + [str(tmp_path / "silence.wav"),
                                                                        str(tmp_path / "noise.wav")]
    run = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", *inputs, "--json", "--timeout", "1500",
                          "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    manifests = {Path(m["source"]["uri"]).name: m for m in json.loads(run.stdout)}
    print(json.dumps({name: (m["status"], m.get("language"), m.get("error"), [w["code"] for w in m["warnings"]])
                      for name, m in manifests.items()}, indent=1))
    for name, code in (("de-reading.ogg", "de-DE"), ("es-reading.ogg", "es-ES"), ("it-reading.ogg", "it-IT")):
        manifest = manifests[name]
        assert manifest["status"] == "SUCCEEDED", manifest
        assert manifest["language"]["code"] == code and manifest["language"]["score"] >= 0.7
        assert manifest["transcript"]["language"] == code
    assert manifests["de-reading.ogg"]["transcript"]["text"].startswith("Der Zug nach Hamburg")
    unsupported = manifests["la-reading.ogg"]
    assert unsupported["status"] == "FAILED" and unsupported["error"]["code"] == "TRANSCRIBE_JOB_FAILED"
    assert "identified language (la" in unsupported["error"]["message"]
    for name in ("silence.wav", "noise.wav"):
        manifest = manifests[name]
        assert manifest["status"] == "SUCCEEDED" and manifest["transcript"]["text"] == ""
        codes = [w["code"] for w in manifest["warnings"]]
        assert "EMPTY_TRANSCRIPT" in codes and "ENRICHMENT_SKIPPED" in codes, codes
        assert not (manifest.get("enrichment") or {}).get("summary")


def test_language_option_requests_a_language(tmp_path: Path) -> None:
    recording = ROOT / "tests" / "data" / "speech" / "de-reading.ogg"
    asked = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", str(recording), "--language", "de-DE",
                            "--json", "--out", str(tmp_path / "de")], cwd=ROOT, capture_output=True, text=True,
                           timeout=1200)
    manifest = json.loads(asked.stdout)[0]
    assert manifest["status"] == "SUCCEEDED" and manifest["transcript"]["language"] == "de-DE", manifest
    refused = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", str(recording), "--language",
                              "xx-XX", "--json", "--out", str(tmp_path / "xx")], cwd=ROOT, capture_output=True,
                             text=True, timeout=1200)
    manifest = json.loads(refused.stdout)[0]
    assert manifest["status"] == "FAILED", manifest
    assert "xx-XX" in manifest["error"]["message"], manifest["error"]


def test_webp_gif_and_bmp_pages_are_read_offline(tmp_path: Path) -> None:
    from PIL import Image

    page = Image.open(SAMPLES / "scanned-page.png")
    inputs = []
    for fmt in ("WEBP", "GIF", "BMP"):
        path = tmp_path / f"scanned-page-{fmt.lower()}.{fmt.lower()}"
        (page.convert("L") if fmt != "WEBP" else page).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
        inputs.append(str(path))
    run = subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", *inputs, "--json",
                          "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=1200)
    expected_text = (SAMPLES / "expected" / "scanned-page.txt").read_text()
    for manifest in json.loads(run.stdout):
        assert manifest["status"] == "SUCCEEDED", manifest
        cer = quality.character_error_rate(expected_text, manifest["text"]["content"])
        print(f"{manifest['source']['detected_format']}: CER {cer:.3f}")
        assert cer <= 0.02
