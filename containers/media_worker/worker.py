"""The video worker: the Fargate task (and the offline local mode's process) for videos too long for Lambda.

It runs `media_pipeline.video.process_video`, the same function as the `extract_media` Lambda, and
reports to the state machine through the task token: SendTaskSuccess with the step result, or
SendTaskFailure with the reason code as `error` and the message as `cause`. A thread sends
SendTaskHeartbeat so a stuck task fails within the state's HeartbeatSeconds instead of hanging.

Environment: MEDIA_BUCKET, MEDIA_KEY, MEDIA_ID, TASK_TOKEN, RESULTS_PREFIX, optional MEDIA_VERSION_ID,
MEDIA_SIZE, HEARTBEAT_SECONDS (default 60) and the VIDEO_* options. Without TASK_TOKEN the result is
printed instead (handy when running it by hand).
Run: python containers/media_worker/worker.py
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Mapping

if importlib.util.find_spec("media_pipeline") is None:
    # Run from a checkout without `pip install -e .`: the package sits two folders up.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from media_pipeline.aws import client  # noqa: E402
from media_pipeline.errors import PipelineError  # noqa: E402
from media_pipeline.observability import logger  # noqa: E402
from media_pipeline.settings import Settings  # noqa: E402
from media_pipeline.video import VideoOptions, process_video  # noqa: E402

# The cause of a task failure is limited to 32 KB by Step Functions.
MAX_CAUSE_CHARS = 32_000


class Heartbeat:
    """Sends SendTaskHeartbeat every `interval` seconds on a daemon thread until stopped."""

    def __init__(self, task_token: str, interval: float):
        self.task_token, self.interval = task_token, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="task-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                client("stepfunctions").send_task_heartbeat(taskToken=self.task_token)
            except Exception as exc:  # noqa: BLE001 - a missed beat must not kill the work
                logger.warning("heartbeat failed", extra={"error": str(exc)})

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run(env: Mapping[str, str]) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """Process the video named by the environment; returns (result, None) or (None, {"code", "message"})."""
    settings = Settings(media_bucket=env.get("MEDIA_BUCKET", ""), jobs_table=env.get("JOBS_TABLE", ""),
                        results_prefix=env.get("RESULTS_PREFIX", "results/"))
    size = _optional(env.get("MEDIA_SIZE"))
    try:
        result = process_video(env["MEDIA_BUCKET"], env["MEDIA_KEY"], env["MEDIA_ID"], settings=settings,
                               version_id=_optional(env.get("MEDIA_VERSION_ID")), size=int(size) if size else None,
                               options=VideoOptions.from_env(dict(env)))
        return result, None
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


def main(env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    missing = [name for name in ("MEDIA_BUCKET", "MEDIA_KEY", "MEDIA_ID") if not env.get(name)]
    token = env.get("TASK_TOKEN") or ""
    logger.set_correlation_id(env.get("MEDIA_ID"))
    if missing:
        result, failure = None, {"code": "WORKER_MISCONFIGURED", "message": f"missing environment: {', '.join(missing)}"}
    elif token:
        with Heartbeat(token, float(env.get("HEARTBEAT_SECONDS", "60"))):
            result, failure = run(env)
    else:
        result, failure = run(env)
    if not token:
        print(json.dumps(result if failure is None else {"error": failure}, indent=2))
        return 0 if failure is None else 1
    states = client("stepfunctions")
    if failure is None:
        states.send_task_success(taskToken=token, output=json.dumps(result))
        parts = (result["audio"] or {}).get("parts", [])
        logger.info("video processed", extra={"audio_parts": len(parts), "thumbnails": len(result["thumbnail_keys"])})
        return 0
    states.send_task_failure(taskToken=token, error=failure["code"], cause=failure["message"][:MAX_CAUSE_CHARS])
    return 1


if __name__ == "__main__":
    sys.exit(main())
