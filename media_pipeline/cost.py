"""What an item cost: its billable units (counted) times the list prices of `prices/aws.json` (data, dated, sourced).

Two halves, both pure:
- `count_execution(events)`: the orchestration an item used, counted from its own Step Functions execution history
  (GetExecutionHistory): state transitions (states entered, plus retries), each Lambda invocation the state machine
  made with its duration and its step's memory, and the Fargate task's run time;
- `cost_section(manifest, execution)`: the manifest's `cost` section: AI services from `usage` (and the language and
  PII sections), orchestration from the execution's counts, every unit next to its price.

What is not counted but estimated is named in `estimated` (docs/cost.md): the Lambdas outside the state machine
(ingest, the callbacks) at a nominal duration, and S3 requests from the result files written.
"""
from __future__ import annotations

import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from importlib import resources
from typing import Any, Iterable, Mapping

from media_pipeline import steps

DEFAULT_REGION = "us-east-1"
# Lambdas the state machine does not invoke run for about this long (ingest, the callbacks: a few small calls each).
NOMINAL_OUTSIDE_SECONDS = 0.3
FARGATE_MINIMUM_SECONDS = 60
# The default video worker size (cdk.json worker_cpu, worker_memory_mib) when the caller does not say.
DEFAULT_WORKER = (2048, 4096)


@functools.lru_cache(maxsize=4)
def price_table(name: str = "aws.json") -> dict[str, Any]:
    return json.loads(resources.files("media_pipeline").joinpath(f"prices/{name}").read_text("utf-8"))


def prices_for(region: str | None, table: Mapping[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
    """(region, its prices); a region the table does not list is priced as us-east-1 (and says so)."""
    table = table or price_table()
    region = region or DEFAULT_REGION
    if region in table["regions"]:
        return region, table["regions"][region]
    return DEFAULT_REGION, table["regions"][DEFAULT_REGION]


# ---- counting the orchestration from the execution history ------------------------------------------------------

@dataclass
class LambdaRun:
    step: str | None  # the registry's step (memory from media_pipeline.steps), None for a function it does not know
    memory_mib: int
    seconds: float


@dataclass
class ExecutionCount:
    """An execution's billable orchestration, counted from its history (up to the moment it was read)."""

    transitions: int = 0
    retries: int = 0
    lambda_runs: list[LambdaRun] = field(default_factory=list)
    callbacks: int = 0  # lambda:invoke.waitForTaskToken tasks: each is resumed by a callback Lambda (outside)
    fargate_seconds: float = 0.0
    fargate_tasks: int = 0
    express_seconds: float | None = None  # an Express execution: no transitions billed, its duration is
    uncounted_runs: int = 0  # Express: step runs whose time the state does not carry (a failed step's)

    def to_units(self) -> dict[str, Any]:
        return {"state_transitions": self.transitions, "state_retries": self.retries,
                "lambda_runs": [asdict(run) for run in self.lambda_runs], "callbacks": self.callbacks,
                "fargate_tasks": self.fargate_tasks, "fargate_seconds": round(self.fargate_seconds, 3)}


def step_of_function(function: str) -> str | None:
    """The registry step of a function ARN or name: the local mode names functions after their step, CDK puts the
    construct's name in it (MediaPipeline-FinalizeFunctionAB12-...)."""
    name = function.split(":function:")[-1].split(":")[0]
    if name in steps.BY_NAME:
        return name
    found = [step.name for step in steps.STEPS if "".join(p.capitalize() for p in step.name.split("_")) + "Function" in name]
    return max(found, key=len) if found else None


def _seconds(start: Any, end: Any) -> float:
    return max(0.0, (_time(end) - _time(start)).total_seconds())


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _task_function(event: dict[str, Any]) -> str | None:
    details = event.get("taskScheduledEventDetails") or {}
    if details.get("resourceType") != "lambda":
        return None
    try:
        return json.loads(details.get("parameters") or "{}").get("FunctionName")
    except ValueError:
        return None


_ENDS = {"LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
_TASK_ENDS = {"TaskSucceeded", "TaskFailed", "TaskTimedOut", "TaskAborted"}


def count_execution(events: Iterable[dict[str, Any]], *, now: datetime | None = None) -> ExecutionCount:
    """Transitions, Lambda runs and Fargate time from GetExecutionHistory's events (in id order).

    A transition is a state entered; a retry is a task scheduled again (its previous event is not the state's entry):
    Step Functions bills both. A Lambda run lasts from its start to its end (for a waitForTaskToken task, to the
    submission: the function returned, the wait is not Lambda time); a Fargate task from its submission to its end.
    Runs still open when the history was read (finalize counting itself) last until `now`."""
    events = sorted(events, key=lambda e: e["id"])
    by_id = {e["id"]: e for e in events}
    count = ExecutionCount()
    open_runs: dict[int, tuple[str, Any, str | None]] = {}  # scheduled id -> (kind, start time, function)
    started_of: dict[int, int] = {}  # started/submitted event id -> scheduled id
    for event in events:
        kind, previous = event["type"], by_id.get(event.get("previousEventId", 0))
        if kind.endswith("StateEntered"):
            count.transitions += 1
        elif kind in ("LambdaFunctionScheduled", "TaskScheduled"):
            if previous is not None and not previous["type"].endswith("StateEntered"):
                count.retries += 1
            details = event.get("taskScheduledEventDetails") or {}
            if kind == "LambdaFunctionScheduled":
                open_runs[event["id"]] = ("lambda", None, event["lambdaFunctionScheduledEventDetails"]["resource"])
            elif details.get("resourceType") == "lambda":
                open_runs[event["id"]] = ("lambda", None, _task_function(event))
                if details.get("resource", "").endswith(".waitForTaskToken"):
                    count.callbacks += 1
            elif details.get("resourceType") == "ecs":
                open_runs[event["id"]] = ("fargate", None, None)
                count.fargate_tasks += 1
        elif kind in ("LambdaFunctionStarted", "TaskStarted", "TaskSubmitted"):
            scheduled = previous["id"] if previous is not None and previous["id"] in open_runs else None
            if scheduled is None and previous is not None:
                scheduled = started_of.get(previous["id"])
            if scheduled is None:
                continue
            what, _, function = open_runs[scheduled]
            if what == "lambda" and kind == "TaskSubmitted":  # the function returned; the task waits for its token
                _close(count, open_runs, scheduled, event["timestamp"])
                continue
            if what == "fargate" and kind != "TaskSubmitted":
                started_of[event["id"]] = scheduled
                continue
            open_runs[scheduled] = (what, event["timestamp"], function)
            started_of[event["id"]] = scheduled
        elif kind in _ENDS or kind in _TASK_ENDS:
            scheduled = started_of.get(previous["id"]) if previous is not None else None
            if scheduled is not None and scheduled in open_runs:
                _close(count, open_runs, scheduled, event["timestamp"])
    end = now or datetime.now(timezone.utc)
    for scheduled in list(open_runs):
        if open_runs[scheduled][1] is not None:
            _close(count, open_runs, scheduled, end)
    return count


def _close(count: ExecutionCount, open_runs: dict[int, tuple[str, Any, str | None]], scheduled: int, end: Any) -> None:
    what, start, function = open_runs.pop(scheduled)
    if start is None:
        return
    seconds = _seconds(start, end)
    if what == "fargate":
        count.fargate_seconds += seconds
        return
    step = step_of_function(function or "")
    memory = steps.BY_NAME[step].memory_mib if step else 1024
    count.lambda_runs.append(LambdaRun(step=step, memory_mib=memory, seconds=round(seconds, 3)))


def execution_history(execution_arn: str) -> list[dict[str, Any]]:
    """Every event of an execution (GetExecutionHistory, all pages)."""
    from media_pipeline.aws import client

    pages = client("stepfunctions").get_paginator("get_execution_history").paginate(
        executionArn=execution_arn, PaginationConfig={"PageSize": 1000})
    return [event for page in pages for event in page["events"]]


# ---- counting an Express execution from the steps' own runs --------------------------------------------------------

EXPRESS_MEMORY_GB = 0.0625  # an execution's memory is billed in 64 MB units: this pipeline's state is far below one
EXPRESS_BILLING_SECONDS = 0.1  # duration is billed in 100 ms units


def count_express(state: Mapping[str, Any], *, started: float, now: float) -> ExecutionCount:
    """An Express execution has no history (AWS keeps none): each step of one records its own run in its result
    (`lambda_run`: media_pipeline/observability.py), finalize adds its own up to `now` (epoch seconds; `started`:
    when it began). The execution's duration is counted from its first step's start; the step a Catch replaced with
    its error (a failed step) left no run: counted in `uncounted_runs`."""
    from media_pipeline.observability import LAMBDA_RUN

    count = ExecutionCount(express_seconds=0.0)
    starts = [started]
    for name, result in (state.get("steps") or {}).items():
        run = result.get(LAMBDA_RUN) if isinstance(result, dict) else None
        if not isinstance(run, dict):
            if isinstance(result, dict) and "Error" in result:
                count.uncounted_runs += 1
            continue
        step = step_of_function(str(run.get("function", "")))
        count.lambda_runs.append(LambdaRun(step=step, memory_mib=steps.BY_NAME[step].memory_mib if step else 1024,
                                           seconds=round(run["elapsed_ms"] / 1000, 3)))
        starts.append(run["started_ms"] / 1000)
    if state.get("error"):  # RecordFailure: the step that failed is not in the state
        count.uncounted_runs += 1
    count.lambda_runs.append(LambdaRun(step="finalize", memory_mib=steps.BY_NAME["finalize"].memory_mib,
                                       seconds=round(max(0.0, now - started), 3)))
    count.express_seconds = round(max(0.0, now - min(starts)), 3)
    return count


def express_gb_seconds(seconds: float) -> float:
    """An Express execution's billed GB-seconds: its duration in 100 ms units at 64 MB."""
    return EXPRESS_MEMORY_GB * math.ceil(round(seconds / EXPRESS_BILLING_SECONDS, 6)) * EXPRESS_BILLING_SECONDS


# ---- the cost section --------------------------------------------------------------------------------------------

def _money(value: float) -> float:
    return round(value, 8)


def _transcribe(manifest: Mapping[str, Any], price: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    usage = manifest.get("usage") or {}
    jobs = usage.get("transcribe_jobs") or 0
    if not jobs:
        return {}, 0.0
    seconds = usage.get("transcribe_seconds")
    if seconds is None:  # an audio upload's one part: its length is the transcript's
        seconds = (manifest.get("transcript") or {}).get("duration_seconds") or usage.get("media_seconds") or 0.0
    billed = max(float(seconds), price["minimum_seconds"] * jobs)  # per second, 15 s minimum per job
    cost = billed / 60 * price["minute"]
    if (manifest.get("pii") or {}).get("source") == "transcribe":
        cost += billed / 60 * price["pii_redaction_minute"]
    return {"transcribe_billed_seconds": round(billed, 3)}, cost


def _comprehend_units(characters: int, minimum: int, max_chars: int = 100_000) -> int:
    requests = max(1, math.ceil(characters / max_chars))
    return max(minimum * requests, math.ceil(characters / 100))


def _comprehend(manifest: Mapping[str, Any], price: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
    """DetectDominantLanguage on the beginning of a document's text (language.sample: 5 KB), DetectPiiEntities on all
    of it."""
    from media_pipeline.language import sample

    text = (manifest.get("text") or {}).get("content") or ""
    units = 0
    if (manifest.get("language") or {}).get("source") == "comprehend" and text:
        units += _comprehend_units(len(sample(text)), price["minimum_units"])
    if (manifest.get("pii") or {}).get("source") == "comprehend" and text:
        units += _comprehend_units(len(text), price["minimum_units"])
    return ({"comprehend_units": units}, units * price["unit"]) if units else ({}, 0.0)


def model_price(model: str | None, bedrock: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A model's price; an inference profile (us.amazon.nova-lite-v1:0) is priced as its model."""
    if not model:
        return None
    if model in bedrock:
        return bedrock[model]
    parts = model.split(".", 1)
    return bedrock.get(parts[1]) if len(parts) == 2 and len(parts[0]) <= 4 else None


def _bedrock(manifest: Mapping[str, Any], price: Mapping[str, Any], notes: list[str]) -> tuple[dict[str, Any], float]:
    usage = manifest.get("usage") or {}
    tokens_in, tokens_out = usage.get("model_input_tokens") or 0, usage.get("model_output_tokens") or 0
    if not usage.get("model_calls"):
        return {}, 0.0
    model = (manifest.get("enrichment") or {}).get("model")
    found = model_price(model, price)
    if found is None:
        notes.append(f"no price for model {model}: its tokens are counted, not priced")
        return {"model_input_tokens": tokens_in, "model_output_tokens": tokens_out}, 0.0
    return ({"model_input_tokens": tokens_in, "model_output_tokens": tokens_out},
            tokens_in / 1000 * found["input_1k"] + tokens_out / 1000 * found["output_1k"])


def _outside_runs(execution: ExecutionCount | None) -> list[LambdaRun]:
    """The Lambdas that ran for the item outside the state machine: ingest, and one callback per resumed job."""
    runs = [LambdaRun("ingest", steps.BY_NAME["ingest"].memory_mib, NOMINAL_OUTSIDE_SECONDS)]
    for _ in range(execution.callbacks if execution else 0):
        runs.append(LambdaRun("callback", steps.BY_NAME["transcribe_callback"].memory_mib, NOMINAL_OUTSIDE_SECONDS))
    return runs


def cost_section(manifest: Mapping[str, Any], execution: ExecutionCount | None, *, region: str | None = None,
                 worker: tuple[int, int] = DEFAULT_WORKER, table: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest's `cost`: AI services and orchestration in USD, with the units they came from.

    `execution` None: no execution was counted (an upload ingest rejected; an execution whose history could not be
    read, then `counted` says so)."""
    table = table or price_table()
    region, price = prices_for(region, table)
    notes: list[str] = []
    units: dict[str, Any] = {}
    ai: dict[str, float] = {}
    usage = manifest.get("usage") or {}
    for name, (found, amount) in (("transcribe", _transcribe(manifest, price["transcribe"])),
                                  ("comprehend", _comprehend(manifest, price["comprehend"])),
                                  ("bedrock", _bedrock(manifest, price["bedrock"], notes))):
        units.update(found)
        if found:
            ai[name] = _money(amount)
    if usage.get("textract_pages"):
        units["textract_pages"] = usage["textract_pages"]
        ai["textract"] = _money(usage["textract_pages"] * price["textract"]["detect_text_page"])

    runs = (execution.lambda_runs if execution else []) + _outside_runs(execution)
    # Lambda bills each invocation's duration rounded up to the millisecond.
    gb_seconds = sum(run.memory_mib / 1024 * math.ceil(run.seconds * 1000) / 1000 for run in runs)
    s3_puts = len(manifest.get("artifacts") or {}) + 1  # each result file once, and the manifest
    s3_gets = len(runs)  # each function reads its input at least once
    express = execution is not None and execution.express_seconds is not None
    states = (execution.transitions + execution.retries if execution else 0) * price["states"]["standard_transition"]
    if express:
        express_gb = express_gb_seconds(execution.express_seconds or 0.0)  # type: ignore[union-attr]
        states = price["states"]["express_request"] + express_gb * price["states"]["express_gb_second"]
        units.update(express_requests=1, express_seconds=execution.express_seconds,  # type: ignore[union-attr]
                     express_gb_seconds=round(express_gb, 4))
    orchestration = {
        "states": _money(states),
        "lambda": _money(len(runs) * price["lambda"]["request"] + gb_seconds * price["lambda"]["gb_second"]),
        "s3": _money(s3_puts * price["s3"]["put_request"] + s3_gets * price["s3"]["get_request"]),
    }
    if execution and execution.fargate_tasks:
        seconds = max(execution.fargate_seconds, FARGATE_MINIMUM_SECONDS * execution.fargate_tasks)
        vcpu, memory_gb = worker[0] / 1024, worker[1] / 1024
        orchestration["fargate"] = _money(seconds / 3600 * (vcpu * price["fargate"]["vcpu_hour"]
                                                            + memory_gb * price["fargate"]["gb_hour"]))
        units.update(fargate_vcpu_seconds=round(seconds * vcpu, 3), fargate_gb_seconds=round(seconds * memory_gb, 3))
    units.update(lambda_requests=len(runs), lambda_gb_seconds=round(gb_seconds, 4), s3_put_requests=s3_puts,
                 s3_get_requests=s3_gets)
    if execution:
        units.update(state_transitions=execution.transitions + execution.retries, state_retries=execution.retries)
    ai_total, orchestration_total = sum(ai.values()), sum(orchestration.values())
    section: dict[str, Any] = {
        "currency": table["currency"], "region": region, "prices_as_of": table["as_of"],
        "total": _money(ai_total + orchestration_total),
        "ai": ai, "ai_total": _money(ai_total),
        "orchestration": orchestration, "orchestration_total": _money(orchestration_total),
        "orchestration_share": round(orchestration_total / ai_total, 4) if ai_total else None,
        "units": units,
        "counted": ("express_steps" if express else "execution_history") if execution else "no_execution",
        "estimated": ["lambda outside the state machine (ingest, callbacks): nominal duration",
                      "s3 requests: from the result files written"],
    }
    if express:
        section["workflow"] = "express"
        section["estimated"] += [
            "express: each step's Lambda time is its handler's own (start-up before it, if cold, not counted)",
            "express duration: from the first step's start to finalize's count (the start before it not counted)"]
        if execution.uncounted_runs:  # type: ignore[union-attr]
            section["estimated"].append(f"express: {execution.uncounted_runs} failed step run(s) not counted")  # type: ignore[union-attr]
    if notes:
        section["notes"] = notes
    return section


def item_cost(manifest: Mapping[str, Any], *, pending_transitions: int = 0, state: Mapping[str, Any] | None = None,
              started: float | None = None) -> dict[str, Any]:
    """The cost section of an item finalize is writing: its execution (named in its job record) counted now.

    `pending_transitions`: states the execution still enters after this one (RecordFailure's Fail state). A history
    that cannot be read leaves the orchestration uncounted (`counted`), never the item failed. An item in the Express
    workflow (`state.media.workflow`) is counted from its state (`count_express`; `started`: finalize's start)."""
    from media_pipeline import jobs
    from media_pipeline.observability import logger
    from media_pipeline.settings import settings

    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    worker = (settings().worker_cpu, settings().worker_memory_mib)
    if state is not None and (state.get("media") or {}).get("workflow") == "express":
        now = time.time()
        return cost_section(manifest, count_express(state, started=now if started is None else started, now=now),
                            region=region, worker=worker)
    execution: ExecutionCount | None = None
    counted = "no_execution"
    try:
        job = jobs.get_job(manifest["media_id"]) or {}
        if job.get("execution_arn"):
            execution = count_execution(execution_history(job["execution_arn"]))
            execution.transitions += pending_transitions
    except Exception as exc:  # noqa: BLE001 - the cost is information about the item, not part of its result
        logger.warning("the execution's history could not be read: its orchestration is not counted",
                       extra={"problem": f"{type(exc).__name__}: {exc}"})
        counted = "history_unavailable"
    section = cost_section(manifest, execution, region=region, worker=worker)
    if execution is None:
        section["counted"] = counted
    return section
