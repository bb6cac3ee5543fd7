"""Finalize: write manifest.json from the steps' results, record the status, announce the result.

The manifest's `cost` counts the item's own execution from its history (media_pipeline.cost), or, in the Express
workflow (which keeps no history), from the runs its steps recorded in the state.

The same function records failures (RecordFailure in the state machine) so a FAILED item still gets
a manifest with its reason and whatever its earlier steps produced. The manifest's sections are built in
media_pipeline.manifest from the typed state (media_pipeline.contract).
"""
from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline.contract import PipelineState, StateContractError, StepWarning
from media_pipeline.cost import item_cost
from media_pipeline.manifest import ResultFiles, build_manifest
from media_pipeline.observability import logger, metrics, pipeline_handler
from media_pipeline.results import publish
from media_pipeline.settings import settings
from media_pipeline.storage import read_json, read_text


def read_state(event: dict[str, Any]) -> tuple[PipelineState, list[StepWarning]]:
    """The typed state. RecordFailure must write its manifest even when a step's result breaks the contract
    (say, an execution started by an older version): then without the steps, and with a warning that says why."""
    try:
        return PipelineState.from_state(event), []
    except StateContractError as exc:
        if not event.get("failed") or exc.where.split(".")[0] in ("", "media", "error"):
            raise
        logger.warning("the steps' results do not match the contract", extra={"problem": exc.reason})
        return PipelineState.from_state({**event, "steps": {}}), [{"code": exc.code, "message": exc.reason}]


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    started = time.time()
    state, warnings = read_state(event)
    manifest = build_manifest(state, ResultFiles(settings().media_bucket, read_text, read_json), warnings)
    manifest["cost"] = item_cost(manifest, pending_transitions=1 if state.failed else 0,  # RecordFailure → MediaFailed
                                 state=event, started=started)  # an Express item: counted from its state
    key = publish(manifest)
    failed = manifest["status"] == "FAILED"
    metrics.add_metric(name="ItemsFailed" if failed else "ItemsSucceeded", unit=MetricUnit.Count, value=1)
    return {"status": manifest["status"], "manifest_key": key, "error_code": manifest["error"]["code"] if failed else None}
