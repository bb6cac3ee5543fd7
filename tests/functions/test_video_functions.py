"""The video path on moto: probe_media, extract_media and the Fargate worker on generated videos."""
from __future__ import annotations

import io
import json

import av
import boto3
import pytest

from media_pipeline.errors import MediaRejected, PipelineError
from media_pipeline.s3_range_reader import S3RangeReader
from tests.conftest import BUCKET, reset_runtime_caches
from tests.functions.s3_faults import s3_answers
from tests.media_factory import make_video

MEDIA_ID = "0123456789abcdef0123456789abcdef"


class LambdaContext:
    function_name = "video"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:video"
    aws_request_id = "req-video"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 900_000


class StatesRecorder:
    """Stands in for the Step Functions client the worker reports to; records every call."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []

    def send_task_success(self, **kwargs):
        self.calls.append(("send_task_success", kwargs))

    def send_task_failure(self, **kwargs):
        self.calls.append(("send_task_failure", kwargs))

    def send_task_heartbeat(self, **kwargs):
        self.calls.append(("send_task_heartbeat", kwargs))


@pytest.fixture(scope="module")
def clip_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", 3).read_bytes()


@pytest.fixture(scope="module")
def silent_bytes(tmp_path_factory) -> bytes:
    return make_video(tmp_path_factory.mktemp("media") / "silent.mp4", 2, with_audio=False).read_bytes()


def upload(body: bytes, key: str = "uploads/clip.mp4") -> dict:
    s3 = boto3.client("s3")
    put = s3.put_object(Bucket=BUCKET, Key=key, Body=body)
    return {"media_id": MEDIA_ID, "bucket": BUCKET, "key": key, "version_id": put.get("VersionId"),
            "etag": put["ETag"].strip('"'), "size": len(body), "media_type": "video", "detected_format": "mp4",
            "source": f"s3://{BUCKET}/{key}"}


def state(media: dict) -> dict:
    return {"media": media, "steps": {}}


def s3_bytes(key: str) -> bytes:
    return boto3.client("s3").get_object(Bucket=BUCKET, Key=key)["Body"].read()


def first_frame(body: bytes):
    with av.open(io.BytesIO(body)) as container:
        return next(container.decode(container.streams[0]))


def test_range_reader_reads_and_seeks_in_bounded_blocks(aws, clip_bytes):
    upload(clip_bytes)
    reader = S3RangeReader(BUCKET, "uploads/clip.mp4", block_size=4096, max_blocks=2)
    assert reader.size == len(clip_bytes)
    assert reader.read(10) == clip_bytes[:10]
    reader.seek(-100, io.SEEK_END)
    assert reader.read() == clip_bytes[-100:]
    reader.seek(5000)
    assert reader.read(9000) == clip_bytes[5000:14000]
    assert reader.buffered_bytes <= 2 * 4096
    reader.seek(0)
    assert reader.read() == clip_bytes and reader.read(5) == b""


def test_range_reader_names_a_missing_object(aws):
    with pytest.raises(MediaRejected) as caught:
        S3RangeReader(BUCKET, "uploads/gone.mp4")
    assert caught.value.code == "OBJECT_NOT_FOUND"


def test_range_reader_maps_a_403_like_every_other_read_of_an_upload(aws, clip_bytes):
    media = upload(clip_bytes)
    missing = s3_answers("HeadObject", 403)
    with pytest.raises(MediaRejected) as caught:
        S3RangeReader(BUCKET, media["key"], version_id=media["version_id"])
    assert caught.value.as_dict() == {
        "code": "OBJECT_NOT_FOUND",
        "message": f"s3://{BUCKET}/{media['key']} (version {media['version_id']}) does not exist or cannot be read "
                   "(S3 answers 403 for a missing key when the caller may not list the bucket)"}
    missing.stop()
    s3_answers("GetObject", 403, "AccessDenied", "User: arn:aws:sts::123456789012:assumed-role/w/x is not "
               "authorized to perform: kms:Decrypt on the resource associated with this ciphertext")
    reader = S3RangeReader(BUCKET, media["key"], version_id=media["version_id"])
    with pytest.raises(PipelineError) as caught:
        reader.read(10)
    assert caught.value.code == "OBJECT_ACCESS_DENIED" and "kms:Decrypt" in caught.value.reason


def test_probe_media_returns_facts_and_route(aws, clip_bytes, monkeypatch):
    from functions.probe_media.handler import handler

    media = upload(clip_bytes)
    result = handler(state(media), LambdaContext())
    assert set(result) == {"duration_seconds", "has_audio", "has_video", "size", "format", "bit_rate", "streams",
                           "route", "warnings"}
    assert result["duration_seconds"] == pytest.approx(3.0, abs=0.1)
    assert result["has_audio"] and result["has_video"] and result["size"] == len(clip_bytes)
    assert result["route"] == "lambda" and result["warnings"] == []
    json.dumps(result)  # the state holds it
    monkeypatch.setenv("VIDEO_LAMBDA_MAX_SECONDS", "2")
    assert handler(state(media), LambdaContext())["route"] == "fargate"


def test_probe_media_on_audio_says_whether_transcribe_takes_it_whole(aws, monkeypatch):
    from functions.probe_media.handler import handler
    from tests.media_factory import wav_bytes

    body = wav_bytes(3.0, tone_hz=440)
    media = {**upload(body, "uploads/talk.wav"), "media_type": "audio", "detected_format": "wav"}
    result = handler(state(media), LambdaContext())
    assert result["duration_seconds"] == pytest.approx(3.0, abs=0.01) and result["format"] == "wav"
    assert (result["has_audio"], result["has_video"], result["route"], result["warnings"]) == (True, False, "audio", [])
    monkeypatch.setenv("VIDEO_AUDIO_PART_MAX_SECONDS", "2")  # past one job's limit: split by the worker
    assert handler(state(media), LambdaContext())["route"] == "lambda"
    monkeypatch.setenv("VIDEO_LAMBDA_MAX_SECONDS", "1")
    assert handler(state(media), LambdaContext())["route"] == "fargate"
    monkeypatch.setenv("VIDEO_AUDIO_PART_MAX_SECONDS", "60")
    monkeypatch.setenv("VIDEO_AUDIO_PART_MAX_BYTES", str(len(body) - 1))  # or past its bytes
    assert handler(state(media), LambdaContext())["route"] == "fargate"


def test_probe_media_warns_when_there_is_no_audio(aws, silent_bytes):
    from functions.probe_media.handler import handler

    result = handler(state(upload(silent_bytes, "uploads/silent.mp4")), LambdaContext())
    assert result["has_audio"] is False
    assert [w["code"] for w in result["warnings"]] == ["NO_AUDIO_TRACK"]


def test_probe_media_rejects_corrupt_video_with_a_code(aws, clip_bytes):
    from functions.probe_media.handler import handler

    media = upload(clip_bytes[: len(clip_bytes) // 3], "uploads/broken.mp4")
    with pytest.raises(MediaRejected) as caught:
        handler(state(media), LambdaContext())
    assert json.loads(str(caught.value))["code"] == "CORRUPT_MEDIA"


def test_extract_media_writes_audio_thumbnails_and_poster(aws, clip_bytes, monkeypatch):
    from functions.extract_media.handler import handler

    monkeypatch.setenv("VIDEO_THUMBNAIL_EVERY_SECONDS", "1")
    result = handler(state(upload(clip_bytes)), LambdaContext())
    prefix = f"results/{MEDIA_ID}/video/"
    assert result["audio"]["parts"] == [{"bucket": BUCKET, "key": f"{prefix}audio-0.flac", "offset_seconds": 0.0,
                                         "duration_seconds": pytest.approx(3.0, abs=0.1)}]
    assert result["thumbnail_keys"] == [f"{prefix}thumbnails/thumb-{n}.jpg" for n in range(3)]
    assert result["poster_key"] == f"{prefix}poster.jpg"
    assert result["duration_seconds"] == pytest.approx(3.0, abs=0.1) and result["warnings"] == []
    audio = s3_bytes(result["audio"]["parts"][0]["key"])
    with av.open(io.BytesIO(audio)) as container:
        assert container.streams.audio[0].sample_rate == 16000
        assert sum(f.samples for f in container.decode(audio=0)) / 16000 == pytest.approx(3.0, abs=1.0)
    for key in [*result["thumbnail_keys"], result["poster_key"]]:
        assert first_frame(s3_bytes(key)).width == 160
    head = boto3.client("s3").head_object(Bucket=BUCKET, Key=result["poster_key"])
    assert head["ContentType"] == "image/jpeg"


def test_extract_media_without_audio_returns_null_audio(aws, silent_bytes):
    from functions.extract_media.handler import handler

    result = handler(state(upload(silent_bytes, "uploads/silent.mp4")), LambdaContext())
    assert result["audio"] is None
    assert [w["code"] for w in result["warnings"]] == ["NO_AUDIO_TRACK"]
    assert result["poster_key"] and result["thumbnail_keys"]


def test_extract_media_splits_audio_into_parts_for_transcribe(aws, clip_bytes, monkeypatch):
    from functions.extract_media.handler import handler

    monkeypatch.setenv("VIDEO_AUDIO_PART_MAX_SECONDS", "1")
    parts = handler(state(upload(clip_bytes)), LambdaContext())["audio"]["parts"]
    assert [p["key"].rsplit("/", 1)[1] for p in parts] == [f"audio-{n}.flac" for n in range(len(parts))]
    assert len(parts) >= 3
    for before, after in zip(parts, parts[1:]):
        assert after["offset_seconds"] == pytest.approx(before["offset_seconds"] + before["duration_seconds"], abs=0.002)
    for part in parts:
        s3_bytes(part["key"])


@pytest.fixture
def worker_env(aws, monkeypatch):
    states = StatesRecorder()

    def install():
        from media_pipeline import aws as aws_clients

        aws_clients._clients[("stepfunctions", None)] = states

    def env(media: dict, **extra) -> dict:
        values = {"MEDIA_BUCKET": BUCKET, "MEDIA_KEY": media["key"], "MEDIA_ID": MEDIA_ID, "TASK_TOKEN": "token-1",
                  "RESULTS_PREFIX": "results/", "JOBS_TABLE": "media-jobs", **extra}
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_runtime_caches()
        install()
        return values

    states.env = env
    return states


def test_worker_sends_task_success_with_the_extract_media_result(worker_env, clip_bytes):
    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes), HEARTBEAT_SECONDS="0.05", VIDEO_THUMBNAIL_EVERY_SECONDS="1")
    assert worker.main() == 0
    success = [kwargs for name, kwargs in worker_env.calls if name == "send_task_success"]
    assert len(success) == 1 and success[0]["taskToken"] == "token-1"
    output = json.loads(success[0]["output"])
    assert set(output) == {"audio", "thumbnail_keys", "poster_key", "duration_seconds", "warnings"}
    assert output["audio"]["parts"][0]["key"] == f"results/{MEDIA_ID}/video/audio-0.flac"
    for key in [output["audio"]["parts"][0]["key"], *output["thumbnail_keys"], output["poster_key"]]:
        assert s3_bytes(key)
    assert not [name for name, _ in worker_env.calls if name == "send_task_failure"]


def test_worker_sends_heartbeats_while_it_works(worker_env, clip_bytes, monkeypatch):
    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes), HEARTBEAT_SECONDS="0.01")
    real = worker.process_video

    def slow(*args, **kwargs):
        import time

        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(worker, "process_video", slow)
    assert worker.main() == 0
    # Beats are sent only for progress: the real process_video reports it as it reads, decodes and uploads.
    beats = [kwargs for name, kwargs in worker_env.calls if name == "send_task_heartbeat"]
    assert beats and all(b == {"taskToken": "token-1"} for b in beats)
    assert worker_env.calls[-1][0] == "send_task_success"


def test_worker_sends_task_failure_with_the_reason_code(worker_env, clip_bytes):
    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes[:2000], "uploads/broken.mp4"))
    assert worker.main() == 1
    assert [name for name, _ in worker_env.calls] == ["send_task_failure"]
    failure = worker_env.calls[0][1]
    assert failure["taskToken"] == "token-1" and failure["error"] == "CORRUPT_MEDIA"
    assert "cannot be opened" in failure["cause"]


def test_worker_reports_a_missing_object(worker_env):
    from containers.media_worker import worker

    worker_env.env({"key": "uploads/never-uploaded.mp4"})
    assert worker.main() == 1
    assert worker_env.calls[-1][1]["error"] == "OBJECT_NOT_FOUND"


def test_worker_without_a_token_prints_the_result(worker_env, clip_bytes, monkeypatch, capsys):
    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes))
    monkeypatch.delenv("TASK_TOKEN")
    assert worker.main() == 0
    assert json.loads(capsys.readouterr().out)["poster_key"] == f"results/{MEDIA_ID}/video/poster.jpg"
    assert worker_env.calls == []


def test_worker_reads_the_pinned_version_when_a_newer_one_exists(worker_env, clip_bytes, silent_bytes):
    from containers.media_worker import worker

    pinned = upload(clip_bytes)  # the version the execution was started for: it has audio
    newer = upload(silent_bytes)  # uploaded since, under the same key: no audio
    assert newer["version_id"] != pinned["version_id"]
    worker_env.env(pinned, MEDIA_VERSION_ID=pinned["version_id"])
    assert worker.main() == 0
    output = json.loads(worker_env.calls[-1][1]["output"])
    assert output["audio"]["parts"][0]["duration_seconds"] == pytest.approx(3.0, abs=0.1)
    assert output["duration_seconds"] == pytest.approx(3.0, abs=0.1) and output["warnings"] == []
    # "null" is how States.Format renders the version id of an object in an unversioned bucket: the latest then.
    worker_env.calls.clear()
    worker_env.env(pinned, MEDIA_VERSION_ID="null")
    assert worker.main() == 0
    assert json.loads(worker_env.calls[-1][1]["output"])["audio"] is None


def test_the_fargate_task_is_given_the_pinned_version_id():
    from pathlib import Path

    asl = json.loads((Path(__file__).parents[2] / "statemachines" / "media_pipeline.asl.json").read_text())
    [state] = [state for name, state in _all_states(asl) if name == "ExtractMediaOnFargate"]
    [container] = state["Parameters"]["Overrides"]["ContainerOverrides"]
    environment = {item["Name"]: item.get("Value.$") for item in container["Environment"]}
    # States.Format turns a JSON null (no versioning) into "null", which the worker reads as no version.
    assert environment["MEDIA_VERSION_ID"] == "States.Format('{}', $.media.version_id)"
    assert "WORKER_STALLED" in state["Retry"][0]["ErrorEquals"]


def _all_states(definition: dict):
    for name, state in definition.get("States", {}).items():
        yield name, state
        for branch in state.get("Branches", []):
            yield from _all_states(branch)
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from _all_states(state[key])


def wait_until(condition, timeout: float = 5.0) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_a_stalled_worker_stops_beating_and_fails_with_worker_stalled(worker_env, clip_bytes, monkeypatch):
    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes), HEARTBEAT_SECONDS="0.02", WORKER_STALL_SECONDS="0.25",
                   WORKER_STOP_GRACE_SECONDS="3")
    seen: dict = {}

    def beats() -> int:
        return sum(1 for name, _ in worker_env.calls if name == "send_task_heartbeat")

    def stalling(*args, progress, **kwargs):
        for _ in range(3):  # progress: each step is followed by a beat
            before = beats()
            progress()
            assert wait_until(lambda: beats() > before)
        seen["beats_before_stall"] = beats()
        import time

        time.sleep(0.6)  # stalled: no progress at all
        seen["beats_after_stall"] = beats()
        try:
            progress()  # the work moves again: it learns it was stopped
        except worker.WorkerStopped as exc:
            seen["stopped"] = exc.code
            raise
        seen["stopped"] = None

    monkeypatch.setattr(worker, "process_video", stalling)
    assert worker.main() == 1
    assert seen["beats_before_stall"] >= 3
    assert seen["beats_after_stall"] == seen["beats_before_stall"]  # no beat during the stall
    assert seen["stopped"] == "WORKER_STOPPED"  # the work was stopped, not left running
    name, failure = worker_env.calls[-1]
    assert name == "send_task_failure" and failure["taskToken"] == "token-1"
    assert failure["error"] == "WORKER_STALLED" and "made no progress" in failure["cause"]
    assert [n for n, _ in worker_env.calls].count("send_task_failure") == 1
    assert not [n for n, _ in worker_env.calls if n == "send_task_success"]


def test_a_worker_stuck_in_a_call_still_reports_and_returns(worker_env, clip_bytes, monkeypatch):
    import threading
    import time

    from containers.media_worker import worker

    worker_env.env(upload(clip_bytes), HEARTBEAT_SECONDS="0.02", WORKER_STALL_SECONDS="0.1",
                   WORKER_STOP_GRACE_SECONDS="0.1")
    release = threading.Event()
    monkeypatch.setattr(worker, "process_video", lambda *a, **k: release.wait(10))
    monkeypatch.setattr(worker, "_unfinished", [])
    began = time.monotonic()
    try:
        assert worker.main() == 1
        assert time.monotonic() - began < 3
        assert worker_env.calls == [("send_task_failure", worker_env.calls[0][1])]
        assert worker_env.calls[0][1]["error"] == "WORKER_STALLED"
        [stuck] = worker._unfinished  # run as a script, the worker then ends its process with os._exit
        assert stuck.is_alive()
    finally:
        release.set()


def test_a_worker_whose_task_timed_out_stops_its_work_and_exits_non_zero(worker_env, clip_bytes, monkeypatch):
    from botocore.stub import Stubber

    from containers.media_worker import worker
    from media_pipeline import aws as aws_clients

    worker_env.env(upload(clip_bytes), HEARTBEAT_SECONDS="0.02", WORKER_STALL_SECONDS="60")
    states = boto3.client("stepfunctions", region_name="us-east-1")
    aws_clients._clients[("stepfunctions", None)] = states
    stubber = Stubber(states)
    stubber.add_response("send_task_heartbeat", {}, {"taskToken": "token-1"})
    stubber.add_client_error("send_task_heartbeat", service_error_code="TaskTimedOut",
                             service_message="Task Timed Out: 'arn:aws:states:us-east-1:123456789012:execution:x'",
                             expected_params={"taskToken": "token-1"})
    seen: dict = {"progress": 0}

    def working(*args, progress, **kwargs):
        import time

        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                progress()
            except worker.WorkerStopped as exc:
                seen["stopped"] = exc.code
                raise
            seen["progress"] += 1
            time.sleep(0.002)
        return {"audio": None, "thumbnail_keys": [], "poster_key": None, "duration_seconds": 0, "warnings": []}

    monkeypatch.setattr(worker, "process_video", working)
    with stubber:  # no SendTaskSuccess or SendTaskFailure is stubbed: reporting to a dead token would fail here
        assert worker.main() == 1
    stubber.assert_no_pending_responses()
    assert seen["stopped"] == "WORKER_STOPPED" and seen["progress"] > 0
