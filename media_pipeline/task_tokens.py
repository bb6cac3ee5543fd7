"""Resuming an execution that waits on a paid job (a `.waitForTaskToken` step) with the job's outcome.

The start step parks the task token (`jobs.save_task_token`) before it starts the job; the job's callback, or a
retried start step that finds its job already finished, resumes the execution here. Transcribe (transcription.py)
and Textract (textract.py) share it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from media_pipeline import jobs
from media_pipeline.aws import client
from media_pipeline.errors import STATES, aws_error, is_stale_token
from media_pipeline.observability import logger

# The cause of a task failure is limited to 32 KB by Step Functions.
MAX_CAUSE_CHARS = 32_000


@dataclass(frozen=True)
class JobOutcome:
    """What a job sends the execution waiting on it: SendTaskSuccess(output) or SendTaskFailure(error, cause)."""

    kind: str  # success | failure | running (not finished: nothing to send yet)
    output: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    cause: str = ""


def resume_execution(token_kind: str, name: str, outcome_of: Callable[[], JobOutcome]) -> str:
    """Send a job's outcome to the execution waiting on it, then forget the token.

    Returns what happened, for logs and tests: 'success' or 'failure' (sent), 'running' (not finished: the token is
    kept), 'no-token' (no execution waits) or 'stale-token' (the task is over). `outcome_of` is called only when an
    execution waits. Errors are raised typed (STATES_* for reporting), never swallowed: in a retried start step the
    execution would otherwise wait for a notification that already went by.
    """
    token = jobs.get_task_token(token_kind, name)
    if token is None:
        return "no-token"
    outcome = outcome_of()
    if outcome.kind == "running":
        return "running"
    result = send_outcome(token, outcome)
    if result == "stale-token":
        logger.warning("the waiting task is gone", extra={"token_kind": token_kind, "job": name})
    jobs.delete_task_token(token_kind, name)
    return result


def send_outcome(token: str, outcome: JobOutcome) -> str:
    """SendTaskSuccess or SendTaskFailure; 'stale-token' when Step Functions no longer waits on the task."""
    from botocore.exceptions import BotoCoreError, ClientError

    sfn = client("stepfunctions")
    try:
        if outcome.kind == "success":
            sfn.send_task_success(taskToken=token, output=json.dumps(outcome.output))
        else:
            sfn.send_task_failure(taskToken=token, error=outcome.error, cause=outcome.cause[:MAX_CAUSE_CHARS])
    except (ClientError, BotoCoreError) as exc:
        if not is_stale_token(exc):
            action = "SendTaskSuccess" if outcome.kind == "success" else "SendTaskFailure"
            raise aws_error(exc, STATES, action) from exc
        return "stale-token"
    return outcome.kind
