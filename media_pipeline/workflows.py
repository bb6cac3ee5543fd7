"""Which workflow an item runs in, and the Express workflow's definition, derived from the Standard ASL.

Two state machines run the same states (docs/cost.md, "Keeping orchestration under 5 %"):
- the Standard one (`statemachines/media_pipeline.asl.json`) for every item that may wait: audio and video wait
  for Transcribe and the Fargate worker, a PDF or a TIFF may wait for asynchronous Textract (known only after
  AnalyzeDocument);
- an Express one for the images Textract reads synchronously (JPEG, PNG and the formats converted to PNG): nothing
  to wait for, and a Standard transition each would be most of their orchestration cost.

The Express definition is not a second file: `express_definition()` takes the Standard one from AnalyzeDocument
on, the states reachable from there with the same Retry/Catch, RecordFailure and MediaFailed. A state that waits
for a callback (`.waitForTaskToken`, `.sync`; Express runs neither) is replaced by a Pass state that records
NEEDS_STANDARD_WORKFLOW and goes to RecordFailure: ingest never sends such an item there, and if one came it
would still end with a manifest. infra/workflow.py deploys it and the local mode runs it; tests/unit/
test_workflows.py checks it has no wait and that its task states are the Standard file's, byte for byte.

Pure: no AWS libraries.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Iterator, Mapping

STANDARD, EXPRESS = "standard", "express"
STANDARD_DEFINITION_FILE = Path(__file__).resolve().parents[1] / "statemachines" / "media_pipeline.asl.json"
EXPRESS_START = "AnalyzeDocument"
# Images Textract reads in one synchronous call (or after a conversion to PNG). A TIFF may have many pages, which
# go through an asynchronous job: it stays Standard, as PDFs do.
EXPRESS_FORMATS = frozenset({"png", "jpeg", "webp", "gif", "bmp", "heic", "avif"})
# Express executions last 5 minutes at most (AWS); reconcile waits this long plus a margin before it calls one over.
EXPRESS_MAX_SECONDS = 300
NEEDS_STANDARD = "NEEDS_STANDARD_WORKFLOW"
_WAITS = (".waitForTaskToken", ".sync", ".sync:2")


def workflow_for(media_type: str, detected_format: str | None) -> str:
    """STANDARD or EXPRESS: where ingest starts the item's execution."""
    return EXPRESS if media_type == "image" and (detected_format or "") in EXPRESS_FORMATS else STANDARD


def is_express_execution(execution_arn: str | None) -> bool:
    """An Express execution's ARN: arn:aws:states:<region>:<account>:express:<state machine>:<name>:<id>."""
    return bool(execution_arn) and execution_arn.split(":")[5:6] == ["express"]  # type: ignore[union-attr]


def waits(state: Mapping[str, Any]) -> bool:
    """A state that waits for a callback or a job (Express cannot), itself or inside a Map/Parallel."""
    if state.get("Type") == "Task" and str(state.get("Resource", "")).endswith(_WAITS):
        return True
    inner = [state.get("ItemProcessor") or state.get("Iterator") or {}] + list(state.get("Branches") or [])
    return any(waits(s) for machine in inner for s in (machine.get("States") or {}).values())


def next_states(state: Mapping[str, Any]) -> Iterator[str]:
    """Every state a state can go to: Next, a Choice's rules and Default, its Catchers."""
    for name in [state.get("Next"), state.get("Default"), *[c.get("Next") for c in state.get("Choices") or []],
                 *[c.get("Next") for c in state.get("Catch") or []]]:
        if name:
            yield name


def express_definition(standard: Mapping[str, Any]) -> dict[str, Any]:
    """The Express workflow: the Standard definition's states reachable from EXPRESS_START (see the module)."""
    states: dict[str, Any] = {}
    todo = [EXPRESS_START]
    while todo:
        name = todo.pop()
        if name in states:
            continue
        state = copy.deepcopy(standard["States"][name])
        if waits(state):
            states[name] = {
                "Type": "Pass",
                "Comment": f"{name} waits for a callback, which an Express workflow cannot: the item belongs in the "
                           "Standard workflow (media_pipeline/workflows.py).",
                "Result": {"Error": NEEDS_STANDARD, "Cause": f"{name} cannot run in the Express workflow"},
                "ResultPath": "$.error",
                "Next": "RecordFailure",
            }
            todo.append("RecordFailure")
            continue
        states[name] = state
        todo.extend(next_states(state))
    ordered = {name: states[name] for name in standard["States"] if name in states}  # the Standard file's order
    return {"Comment": "Media pipeline, images read synchronously: one Express execution per item, derived from "
                       "the Standard definition (media_pipeline/workflows.py).",
            "StartAt": EXPRESS_START, "States": ordered}


def standard_text(path: Path = STANDARD_DEFINITION_FILE) -> str:
    return path.read_text(encoding="utf-8")


def express_text(standard: str | None = None) -> str:
    """The Express definition as ASL JSON text, `${...}` substitutions untouched."""
    return json.dumps(express_definition(json.loads(standard if standard is not None else standard_text())), indent=2)
