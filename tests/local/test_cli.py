"""End to end through the `media-pipeline` command, offline, with the real engines (slow): every sample, bad
inputs that must each end with a FAILED manifest and a reason while the run goes on, and the Fargate route."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from media_pipeline.cli import results_page
from media_pipeline.local import moto_gaps, quality, runtime
from tests.local.test_runtime import fake_transcribe
from tests.waiting import until

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
        assert (out / sample.name / "manifest.json").is_file()
    speech = by_input[str(SAMPLES / "speech.flac")]
    wer = quality.word_error_rate((SAMPLES / "expected" / "speech.txt").read_text(), speech["transcript"]["text"])
    assert wer <= 0.10
    assert speech["artifacts"]["captions_vtt"] == f"{out}/speech.flac/captions.vtt"  # a path as printed
    assert (out / "speech.flac" / "captions.vtt").read_text().startswith("WEBVTT")
    page_text = (out / "scanned-page.png" / "text.txt").read_text()
    assert quality.character_error_rate((SAMPLES / "expected" / "scanned-page.txt").read_text(), page_text) <= 0.02
    report_text = (out / "two-page-report.pdf" / "text.txt").read_text()
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
    assert "SUCCEEDED" in run.stdout and "Welcome to the" in run.stdout and "1 of 1 items SUCCEEDED" in run.stdout


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    from media_pipeline import cli

    assert cli.main(["process", str(tmp_path / "nope.wav")]) == 2


def cli_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "media_pipeline.cli", "process", *args], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=600)


def test_runs_into_one_out_folder_never_mix_and_a_rerun_replaces(tmp_path: Path) -> None:
    """talk.ogg then talk.png into the same --out: two folders, each with its own files; a re-run replaces one."""
    shutil.copy(SAMPLES / "speech.flac", tmp_path / "talk.ogg")
    shutil.copy(SAMPLES / "scanned-page.png", tmp_path / "talk.png")
    assert cli_run("talk.ogg", "--out", "out", cwd=tmp_path).returncode == 0
    png = cli_run("talk.png", "--out", "out", "--json", cwd=tmp_path)
    assert png.returncode == 0, png.stderr[-2000:]
    audio, image = tmp_path / "out" / "talk.ogg", tmp_path / "out" / "talk.png"
    assert json.loads((audio / "manifest.json").read_text())["media_type"] == "audio"
    assert (audio / "captions.vtt").is_file()
    saved = json.loads((image / "manifest.json").read_text())
    assert saved["media_type"] == "image" and saved["source"]["uri"] == "talk.png"
    assert not (image / "captions.vtt").exists() and "Quarterly Field Report" in (image / "text.txt").read_text()
    assert all((image / link).is_file() for link in saved["artifacts"].values())  # links work inside the folder
    assert "s3://" not in json.dumps({k: v for k, v in saved.items() if k != "source"})

    (image / "left-over.txt").write_text("from an older run")
    assert cli_run("talk.png", "--out", "out", cwd=tmp_path).returncode == 0
    assert not (image / "left-over.txt").exists() and (image / "manifest.json").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.html", "talk.ogg", "talk.png"]


@pytest.fixture
def fresh_emulator_after() -> Iterator[None]:
    """The command ran its emulator in this process: its account is emptied for the next test's."""
    yield
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def test_one_bad_input_never_stops_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str], fresh_emulator_after: None) -> None:
    """A FIFO, a vanished file, a directory loop, a file that cannot be read at upload, and two 251-character names
    with one stem: the bad ones FAILED with a reason, the good ones SUCCEEDED, every one in its own folder."""
    from media_pipeline import cli

    batch = tmp_path / "batch"
    (batch / "nested").mkdir(parents=True)
    stem = "n" * 247
    shutil.copy(SAMPLES / "scanned-page.png", batch / f"{stem}.png")
    shutil.copy(SAMPLES / "scanned-page.png", batch / f"{stem}.jpg")
    shutil.copy(SAMPLES / "scanned-page.png", batch / "nested" / "locked.png")
    os.mkfifo(batch / "pipe.wav")
    (batch / "vanished.mp3").symlink_to(tmp_path / "gone.mp3")
    (batch / "nested" / "loop").symlink_to(batch)
    locked = batch / "nested" / "locked.png"
    real_read_bytes = Path.read_bytes

    def locked_at_upload(path: Path) -> bytes:  # readable when checked, denied when the run reaches it
        if path == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", locked_at_upload)
    out = tmp_path / "out"
    code = cli.main(["process", str(batch), "--out", str(out), "--json", "--strict"])
    captured = capsys.readouterr()
    assert code == 3, captured.err[-3000:]  # --strict: an item FAILED
    by_input = {Path(m["source"]["uri"]).name: m for m in json.loads(captured.out)}
    codes = {name: (m["status"], (m.get("error") or {}).get("code")) for name, m in by_input.items()}
    assert codes == {f"{stem}.png": ("SUCCEEDED", None), f"{stem}.jpg": ("SUCCEEDED", None),
                     "locked.png": ("FAILED", "INPUT_UNREADABLE"), "pipe.wav": ("FAILED", "INPUT_NOT_A_FILE"),
                     "vanished.mp3": ("FAILED", "INPUT_NOT_FOUND"), "loop": ("FAILED", "INPUT_DIRECTORY_LOOP")}
    folders = sorted(str(p.parent.relative_to(out)) for p in out.rglob("manifest.json"))
    assert len(folders) == 6 and "nested/locked.png" in folders and "pipe.wav" in folders
    long_ones = [f for f in folders if f.startswith("nnnn")]
    assert len(long_ones) == 2 and all(len(f) <= 200 and "~" in f for f in long_ones)
    for name in (f"{stem}.png", f"{stem}.jpg"):
        assert "Quarterly Field Report" in Path(by_input[name]["artifacts"]["text"]).read_text()
    run = results_page.embedded_run((out / "index.html").read_text())
    errors = " ".join(view["error"]["message"] for view in run["views"].values() if view["error"])
    assert len(run["items"]) == 6 and "named pipe" in errors and "permission denied" in errors


def test_long_video_route_runs_the_worker_as_a_local_process() -> None:
    """VIDEO_LAMBDA_MAX_SECONDS=0 sends the video to the Fargate route: ECS RunTask starts worker.py as a process."""
    from media_pipeline.local.engines import extractive

    with runtime.LocalPipeline(mode="server", engines=False, environment={"VIDEO_LAMBDA_MAX_SECONDS": "0"}) as local:
        moto_gaps.install_ai_engines(transcribe=fake_transcribe, bedrock=extractive.converse)
        manifest = local.process(SAMPLES / "video-with-speech.mp4", timeout=180)
        assert manifest["status"] == "SUCCEEDED", manifest
        assert manifest["video"]["route"] == "fargate" and manifest["video"]["poster"]
        ecs, cluster = local.client("ecs"), local.substitutions["MediaWorkerClusterArn"]
        # The worker resumes the execution before its process exits: the task stops a moment after the manifest.
        tasks = until(lambda: ecs.list_tasks(cluster=cluster, desiredStatus="STOPPED")["taskArns"], timeout=60,
                      what="the worker's task to stop")
        assert len(tasks) == 1 and not ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]


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
