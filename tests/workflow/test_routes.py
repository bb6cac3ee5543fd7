"""Documents, images and videos through the real ASL on moto's engine: every route, exact content."""
from __future__ import annotations

import json
import time

import pytest

from tests.document_factory import image_bytes, long_pdf, scanned_pdf, text_pdf
from tests.media_factory import make_video
from tests.workflow.conftest import TRANSCRIPT, largest_payload


def entered(pipeline, media_id: str) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in pipeline.history(media_id) if e["type"].endswith("StateEntered")]


def test_image_takes_synchronous_textract(pipeline, engines):
    engines.documents[1] = {1: ["Invoice 2041", "Total due: 118.40 EUR"]}
    upload = pipeline.upload(image_bytes(("Invoice 2041",)), name="invoice.png")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["media_type"] == "image"
    assert manifest["text"]["content"] == "Invoice 2041\nTotal due: 118.40 EUR"
    assert manifest["text"]["pages"] == [{"page": 1, "text": "Invoice 2041\nTotal due: 118.40 EUR", "source": "textract"}]
    assert engines.textract_calls == 1
    assert "StartDocumentAnalysis" not in entered(pipeline, upload.media_id)


@pytest.mark.parametrize("fmt", ["WEBP", "GIF", "BMP"])
def test_images_textract_does_not_read_are_converted_on_the_way(pipeline, engines, fmt):
    engines.documents[1] = {1: ["Receipt 77", "Paid by card"]}
    upload = pipeline.upload(image_bytes(("Receipt 77", "Paid by card"), fmt=fmt), name=f"receipt.{fmt.lower()}")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["media_type"] == "image" and manifest["source"]["detected_format"] == fmt.lower()
    assert manifest["text"]["content"] == "Receipt 77\nPaid by card"
    assert engines.textract_calls == 1


def test_born_digital_pdf_is_read_from_its_text_layer(pipeline, engines):
    upload = pipeline.upload(text_pdf([["Minutes of the board", "The budget was approved."], ["Next meeting in May."]]),
                             name="minutes.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["media_type"] == "document"
    assert [(p["page"], p["source"]) for p in manifest["text"]["pages"]] == [(1, "text_layer"), (2, "text_layer")]
    assert manifest["text"]["pages"][1]["text"] == "Next meeting in May."
    assert engines.textract_calls == 0  # no paid OCR call
    assert (manifest["usage"]["textract_pages"], manifest["usage"]["text_layer_pages"]) == (0, 2)
    assert manifest["enrichment"]["title"] == "Media pipeline welcome"


def test_scanned_pdf_waits_for_textracts_sns_callback(pipeline, engines):
    engines.documents[2] = \
        {1: ["Scanned letter, page one"], 2: ["Scanned letter, page two"]}
    upload = pipeline.upload(scanned_pdf([["Scanned letter, page one"], ["Scanned letter, page two"]]), name="letter.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert [(p["page"], p["source"], p["text"]) for p in manifest["text"]["pages"]] == [
        (1, "textract", "Scanned letter, page one"), (2, "textract", "Scanned letter, page two")]
    states = entered(pipeline, upload.media_id)
    assert states[:4] == ["RouteByMediaType", "AnalyzeDocument", "DocumentNeedsOcr", "StartDocumentAnalysis"]
    history = pipeline.history(upload.media_id)
    ocr = next(e for e in history if e["type"] == "TaskSucceeded" and '"job_id"' in e["taskSucceededEventDetails"]["output"])
    assert json.loads(ocr["taskSucceededEventDetails"]["output"])["status"] == "SUCCEEDED"
    assert engines.textract_calls == 1


@pytest.fixture
def small_model_input(monkeypatch):
    """Parts of 2,000 tokens, so the 300 short pages below need several model calls."""
    from tests.conftest import reset_runtime_caches

    monkeypatch.setenv("ENRICHMENT_MAX_INPUT_TOKENS", "2000")
    reset_runtime_caches()
    yield
    monkeypatch.undo()
    reset_runtime_caches()


def test_three_hundred_pages_stay_small_in_state_and_are_map_reduced(pipeline, engines, capsys, small_model_input):
    document, expected = long_pdf(300)
    upload = pipeline.upload(document, name="long-report.pdf")
    manifest = pipeline.wait(upload.media_id, timeout=120)
    assert manifest["status"] == "SUCCEEDED"
    assert len(manifest["text"]["pages"]) == 300
    assert manifest["text"]["pages"][299]["text"] == expected[300]
    calls = manifest["enrichment"]["model_calls"]
    assert calls == engines.bedrock_calls and calls > 2  # parts, then the combine step
    assert "part-by-part summaries" in engines.bedrock_prompts[-1]
    largest = largest_payload(pipeline.history(upload.media_id))
    assert largest < 16 * 1024
    with capsys.disabled():
        print(f"\n[workflow] 300-page PDF: largest state payload {largest} bytes, {calls} model calls")


@pytest.fixture
def short_lambda_limit(monkeypatch):
    monkeypatch.setenv("VIDEO_LAMBDA_MAX_SECONDS", "2")


def test_short_video_runs_the_worker_in_a_lambda(pipeline, engines, short_lambda_limit, tmp_path):
    video = make_video(tmp_path / "short.mp4", 1.0)
    upload = pipeline.upload(video)
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED" and manifest["media_type"] == "video"
    assert manifest["video"]["route"] == "lambda" and manifest["video"]["has_audio"] is True
    assert manifest["video"]["poster"].endswith("/video/poster.jpg") and manifest["video"]["thumbnails"]
    assert manifest["transcript"]["text"] == TRANSCRIPT
    states = entered(pipeline, upload.media_id)
    assert "ExtractMediaInLambda" in states and "ExtractMediaOnFargate" not in states


def test_long_video_runs_the_worker_as_a_fargate_task(pipeline, engines, short_lambda_limit, tmp_path):
    video = make_video(tmp_path / "long.mp4", 3.0)
    upload = pipeline.upload(video)
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["video"]["route"] == "fargate"
    assert manifest["transcript"]["text"] == TRANSCRIPT
    states = entered(pipeline, upload.media_id)
    assert "ExtractMediaOnFargate" in states and "ExtractMediaInLambda" not in states
    tasks = pipeline.client("ecs").list_tasks(cluster="media-pipeline")["taskArns"]
    assert tasks  # the run-task integration started a task


def test_video_without_audio_gets_thumbnails_only(pipeline, engines, tmp_path):
    video = make_video(tmp_path / "silent-film.mp4", 1.0, with_audio=False)
    upload = pipeline.upload(video)
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    assert manifest["video"]["has_audio"] is False and manifest["video"]["thumbnails"]
    assert "transcript" not in manifest and engines.transcribe_calls == 0
    assert "NO_AUDIO_TRACK" in [w["code"] for w in manifest["warnings"]]
    assert "Transcribe" not in entered(pipeline, upload.media_id)


def test_corrupt_video_fails_with_its_reason(pipeline, engines, tmp_path):
    video = make_video(tmp_path / "broken.mp4", 2.0).read_bytes()
    upload = pipeline.upload(video[:48] + bytes(reversed(video[48:4000])), name="broken.mp4")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "FAILED"
    assert manifest["error"]["code"] == "CORRUPT_MEDIA"


def test_media_past_transcribes_limits_is_split_and_joined_with_offsets(pipeline, engines, monkeypatch, tmp_path):
    monkeypatch.setenv("VIDEO_AUDIO_PART_MAX_SECONDS", "1")  # stands for Transcribe's 4 hours
    video = make_video(tmp_path / "lecture.mp4", 2.5)
    upload = pipeline.upload(video)
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    parts = sorted(k for k in manifest["artifacts"] if k.startswith("transcribe_json_"))
    assert parts == ["transcribe_json_0", "transcribe_json_1", "transcribe_json_2"]
    assert engines.transcribe_calls == 3
    jobs = pipeline.client("transcribe").list_transcription_jobs(JobNameContains=upload.media_id)
    assert sorted(j["TranscriptionJobName"][-1] for j in jobs["TranscriptionJobSummaries"]) == ["0", "1", "2"]
    sfn = pipeline.client("stepfunctions")
    while (execution := sfn.describe_execution(executionArn=pipeline.execution_arn(upload.media_id)))["status"] == "RUNNING":
        time.sleep(0.05)
    offsets = [p["offset_seconds"] for p in json.loads(execution["output"])["steps"]["audio"]["parts"]]
    assert offsets[0] == 0 and all(0.9 <= b - a <= 1.0 for a, b in zip(offsets, offsets[1:]))  # parts of <= 1 s
    # Each part's transcript (the same fixture here) is shifted by where its part starts in the media.
    starts = [s["start"] for s in manifest["transcript"]["segments"]]
    assert starts == [round(t + o, 3) for o in offsets for t in (0.04, 2.9)]
    assert manifest["transcript"]["text"] == " ".join([TRANSCRIPT] * 3)
    assert manifest["usage"]["transcribe_jobs"] == 3
    assert abs(manifest["usage"]["transcribe_seconds"] - manifest["usage"]["media_seconds"]) < 0.2


def five_hour_wav() -> bytes:
    """5 h of 8 kHz 8-bit mono (144 MB): past Transcribe's 4 h per job, quick to make and to decode."""
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(1)
        handle.setframerate(8000)
        minute = bytes(128 + int(40 * ((i % 20) < 10)) for i in range(8000)) * 60  # a 400 Hz square tone
        for _ in range(5 * 60):
            handle.writeframes(minute)
    return out.getvalue()


@pytest.mark.slow
def test_audio_past_transcribes_limits_is_split_into_parts(pipeline, engines):
    upload = pipeline.upload(five_hour_wav(), name="five-hours.wav")
    manifest = pipeline.wait(upload.media_id, timeout=600)
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    states = entered(pipeline, upload.media_id)
    assert states[:4] == ["RouteByMediaType", "ProbeAudio", "AudioNeedsSplitting", "RouteVideo"]
    history = pipeline.history(upload.media_id)
    prepared = next(json.loads(e["stateExitedEventDetails"]["output"]) for e in history
                    if e["type"] == "PassStateExited" and e["stateExitedEventDetails"]["name"] == "PrepareVideoAudio")
    parts = prepared["steps"]["audio"]["parts"]
    assert [p["key"].rsplit("/", 1)[-1] for p in parts] == ["audio-0.flac", "audio-1.flac"]
    assert all(p["duration_seconds"] <= 4 * 3600 for p in parts)
    assert parts[0]["offset_seconds"] == 0
    assert parts[1]["offset_seconds"] == pytest.approx(parts[0]["duration_seconds"], abs=0.01)
    assert sum(p["duration_seconds"] for p in parts) == pytest.approx(5 * 3600, abs=0.01)
    assert manifest["usage"]["transcribe_seconds"] == pytest.approx(5 * 3600, abs=0.01)
    assert manifest["usage"]["media_seconds"] == pytest.approx(5 * 3600, abs=0.01)
    assert manifest["usage"]["transcribe_jobs"] == 2 and engines.transcribe_calls == 2
    # The second part's words sit 4 h later on the item's timeline.
    segments = json.loads(pipeline.client("s3").get_object(
        Bucket=pipeline.bucket, Key=f"results/{upload.media_id}/segments.json")["Body"].read())
    assert segments[2]["start"] == pytest.approx(parts[1]["offset_seconds"] + segments[0]["start"], abs=0.01)
    assert "video" not in manifest and "NO_VIDEO_TRACK" not in [w["code"] for w in manifest["warnings"]]
