"""The video worker: the Fargate task (and the offline local mode's process) for videos too long for Lambda.

It runs `media_pipeline.video.process_video`, the same function as the `extract_media` Lambda, and
reports to the state machine through the task token: SendTaskSuccess with the step result, or
SendTaskFailure with the reason code as `error` and the message as `cause`. A watchdog thread sends
SendTaskHeartbeat only when the work made progress since the last beat, so a stalled task fails within
the state's HeartbeatSeconds; it stops the work when the state machine no longer waits on the task
(TaskTimedOut, TaskDoesNotExist, InvalidToken) or when nothing moved for WORKER_STALL_SECONDS
(SendTaskFailure WORKER_STALLED), so two workers never keep running for one item after a retry.

Environment: MEDIA_BUCKET, MEDIA_KEY, MEDIA_ID, TASK_TOKEN, RESULTS_PREFIX, optional MEDIA_VERSION_ID,
MEDIA_SIZE, HEARTBEAT_SECONDS (default 60), WORKER_STALL_SECONDS (default 300),
WORKER_STOP_GRACE_SECONDS (default 10) and the VIDEO_* options. Without TASK_TOKEN the result is
printed instead (handy when running it by hand).
Run: python containers/media_worker/worker.py
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Mapping

if importlib.util.find_spec("media_pipeline") is None:
    # Run from a checkout without `pip install -e .`: the package sits two folders up.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from media_pipeline.aws import client  # noqa: E402
from media_pipeline.contract import VideoResult  # noqa: E402
from media_pipeline.errors import PipelineError, error_parts, is_stale_token  # noqa: E402
from media_pipeline.observability import logger  # noqa: E402
from media_pipeline.settings import Settings  # noqa: E402
from media_pipeline.video import VideoOptions, process_video  # noqa: E402

# The cause of a task failure is limited to 32 KB by Step Functions.
MAX_CAUSE_CHARS = 32_000


class WorkerStopped(PipelineError):
    """Raised from the progress callback once the watchdog has stopped the work."""

    code = "WORKER_STOPPED"


class Watchdog:
    """Heartbeats that report progress, and the switch that stops work nobody waits on any more.

    `progress()` is the callback process_video calls as it reads, decodes and writes. Every `interval` seconds
    the watchdog thread sends SendTaskHeartbeat if, and only if, progress was made since the last beat. It stops
    the work (sets `reason`, and the next `progress()` raises WorkerStopped) when SendTaskHeartbeat answers
    TaskTimedOut, TaskDoesNotExist or InvalidToken (TASK_GONE: the state machine gave up on this task and may
    have started another) or when no progress was made for `stall_seconds` (WORKER_STALLED).
    """

    def __init__(self, task_token: str, interval: float, stall_seconds: float):
        self.task_token, self.interval, self.stall_seconds = task_token, interval, stall_seconds
        self.count = 0  # progress calls so far; only the work thread writes it
        self.reason: dict[str, str] | None = None
        self.stopped = threading.Event()
        self.on_stop: Any = None
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-watchdog", daemon=True)

    def progress(self) -> None:
        if self.stopped.is_set():
            raise WorkerStopped(self.reason["message"] if self.reason else "stopped", code="WORKER_STOPPED")
        self.count += 1

    def stop(self, code: str, message: str) -> None:
        if self.stopped.is_set():
            return
        self.reason = {"code": code, "message": message}
        self.stopped.set()
        logger.warning("stopping the work", extra={"code": code, "reason": message})
        if self.on_stop is not None:
            self.on_stop()

    def _run(self) -> None:
        beaten, quiet_since = self.count, time.monotonic()
        while not self._done.wait(self.interval) and not self.stopped.is_set():
            now = time.monotonic()
            if self.count != beaten:
                beaten, quiet_since = self.count, now
                self._beat()
            elif now - quiet_since >= self.stall_seconds:
                self.stop("WORKER_STALLED", f"the video worker made no progress for {now - quiet_since:.0f} s "
                                            f"(limit {self.stall_seconds:g} s)")

    def _beat(self) -> None:
        try:
            client("stepfunctions").send_task_heartbeat(taskToken=self.task_token)
        except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the work; a dead token stops it
            if is_stale_token(exc):
                self.stop("TASK_GONE", f"the state machine no longer waits on this task ({error_parts(exc)[0]})")
            else:
                logger.warning("heartbeat failed", extra={"error": str(exc)})

    def __enter__(self) -> "Watchdog":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join(timeout=5)


# Work threads the watchdog stopped that did not finish within the grace period (stuck in a call).
_unfinished: list[threading.Thread] = []


def run_watched(env: Mapping[str, str], token: str) -> tuple[VideoResult | None, dict[str, str] | None]:
    """`run` on a work thread under a Watchdog; returns as soon as the work ends or the watchdog stops it."""
    watchdog = Watchdog(token, float(env.get("HEARTBEAT_SECONDS", "60")),
                        float(env.get("WORKER_STALL_SECONDS", "300")))
    outcome: dict[str, Any] = {}
    ended = threading.Event()
    watchdog.on_stop = ended.set

    def work() -> None:
        try:
            outcome["value"] = run(env, progress=watchdog.progress)
        finally:
            ended.set()

    # A daemon thread: a stopped worker must be able to exit even while the work is stuck in a call.
    worker = threading.Thread(target=work, name="process-video", daemon=True)
    with watchdog:
        worker.start()
        ended.wait()
    if watchdog.reason is None:
        return outcome["value"]
    # Give the work a moment to unwind (temporary files removed, multipart uploads aborted), not more.
    worker.join(float(env.get("WORKER_STOP_GRACE_SECONDS", "10")))
    if worker.is_alive():
        _unfinished.append(worker)
    return None, watchdog.reason


def run(env: Mapping[str, str], progress: Any = None) -> tuple[VideoResult | None, dict[str, str] | None]:
    """Process the video named by the environment; returns (result, None) or (None, {"code", "message"}).

    The result is `$.steps.video` of the state (media_pipeline.contract), as extract_media returns it."""
    settings = Settings(media_bucket=env.get("MEDIA_BUCKET", ""), jobs_table=env.get("JOBS_TABLE", ""),
                        results_prefix=env.get("RESULTS_PREFIX", "results/"))
    size = _optional(env.get("MEDIA_SIZE"))
    try:
        result = process_video(env["MEDIA_BUCKET"], env["MEDIA_KEY"], env["MEDIA_ID"], settings=settings,
                               version_id=_optional(env.get("MEDIA_VERSION_ID")), size=int(size) if size else None,
                               options=VideoOptions.from_env(dict(env)), progress=progress)
        return VideoResult.from_state(result), None
    except PipelineError as exc:
        logger.warning("video rejected or failed", extra={"code": exc.code, "reason": exc.reason})
        return None, exc.as_dict()
    except Exception as exc:  # noqa: BLE001 - every failure is reported through the token
        logger.exception("video worker crashed")
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        return None, {"code": "MEDIA_WORKER_CRASHED", "message": detail}


def _optional(value: str | None) -> str | None:
    # States.Format renders a JSON null as "null" in container overrides: no version id then.
    return None if value in (None, "", "null", "None") else value


def report(token: str, result: VideoResult | None, failure: dict[str, str] | None) -> int:
    """SendTaskSuccess or SendTaskFailure; the exit code. A task the state machine gave up on is not reported."""
    if failure is not None and failure["code"] == "TASK_GONE":
        return 1
    states = client("stepfunctions")
    try:
        if failure is None:
            states.send_task_success(taskToken=token, output=json.dumps(result.to_state() if result else None))
        else:
            states.send_task_failure(taskToken=token, error=failure["code"], cause=failure["message"][:MAX_CAUSE_CHARS])
    except Exception as exc:
        if not is_stale_token(exc):
            raise
        logger.warning("the state machine no longer waits on this task", extra={"code": error_parts(exc)[0]})
        return 1
    if failure is not None:
        return 1
    if result is not None:
        logger.info("video processed", extra={"audio_parts": len(result.audio_parts),
                                              "thumbnails": len(result.thumbnail_keys)})
    return 0


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    missing = [name for name in ("MEDIA_BUCKET", "MEDIA_KEY", "MEDIA_ID") if not env.get(name)]
    token = env.get("TASK_TOKEN") or ""
    logger.set_correlation_id(env.get("MEDIA_ID"))
    if missing:
        result, failure = None, {"code": "WORKER_MISCONFIGURED", "message": f"missing environment: {', '.join(missing)}"}
    elif token:
        result, failure = run_watched(env, token)
    else:
        result, failure = run(env)
    if not token:
        print(json.dumps(result.to_state() if result is not None else {"error": failure}, indent=2))
        return 0 if failure is None else 1
    return report(token, result, failure)


if __name__ == "__main__":
    exit_code = main()
    if any(thread.is_alive() for thread in _unfinished):
        # The stopped work is stuck in a call that never returns: only ending the process stops it for sure.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(exit_code)
    sys.exit(exit_code)
