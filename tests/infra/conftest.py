"""The CDK app synthesized once per test session (bundling off: no pip, no network, no Docker)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
ASL_FILE = ROOT / "statemachines" / "media_pipeline.asl.json"
TEST_CONTEXT = {"bundling": "false"}


@dataclass
class Synthesized:
    stack: Any
    template: Any  # aws_cdk.assertions.Template
    outdir: Path
    validation_error: str | None
    validation_report: dict | None

    @property
    def json(self) -> dict:
        return self.template.to_json()

    def resources(self, resource_type: str) -> dict[str, dict]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == resource_type}

    def one(self, resource_type: str) -> tuple[str, dict]:
        found = self.resources(resource_type)
        assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
        return next(iter(found.items()))

    def logical_id(self, construct) -> str:
        return self.stack.get_logical_id(construct.node.default_child)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    from aws_cdk.assertions import Template

    from infra.application import create_app

    outdir = tmp_path_factory.mktemp("cdk-out")
    app, stack = create_app(context=TEST_CONTEXT, outdir=str(outdir))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings: reported by test_nag, the other tests still run
        error = str(exc)
        app, stack = create_app(context=TEST_CONTEXT, outdir=str(tmp_path_factory.mktemp("cdk-out-unchecked")),
                                checks=False)
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    yield Synthesized(stack=stack, template=Template.from_stack(stack), outdir=Path(app.outdir),
                      validation_error=error, validation_report=report)


@pytest.fixture(scope="session")
def asl() -> dict:
    return json.loads(ASL_FILE.read_text())


def state_names(definition: dict) -> set[str]:
    """Every state name, including those inside Map item processors and Parallel branches."""
    names: set[str] = set()
    for name, state in definition.get("States", {}).items():
        names.add(name)
        for nested in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if nested:
                names |= state_names(nested)
    return names
