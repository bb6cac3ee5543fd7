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
LINT_CONFIG = Path(__file__).with_name("cfn-lint.yaml")
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


def synthesize(tmp_path_factory: pytest.TempPathFactory, context: dict[str, str]) -> Synthesized:
    """One synthesis with the cdk-nag checks (bundling off); a nag error is kept for the tests to report."""
    from aws_cdk.assertions import Template

    from infra.application import create_app

    outdir = tmp_path_factory.mktemp("cdk-out")
    app, stack = create_app(context=context, outdir=str(outdir))
    error = None
    try:
        app.synth()
    except RuntimeError as exc:  # cdk-nag findings: reported by test_nag, the other tests still run
        error = str(exc)
        app, stack = create_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk-out-unchecked")),
                                checks=False)
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return Synthesized(stack=stack, template=Template.from_stack(stack), outdir=Path(app.outdir),
                       validation_error=error, validation_report=report)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synthesized]:
    yield synthesize(tmp_path_factory, TEST_CONTEXT)


def nag_violations(synthesized: Synthesized) -> list:
    """cdk-nag's unacknowledged findings ([] when the AwsSolutions pack ran and passed)."""
    assert synthesized.validation_error is None, synthesized.validation_error
    report = synthesized.validation_report
    assert report is not None, "cdk-nag did not run"
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    return nag["violations"]


def cfn_lint_problems(synthesized: Synthesized) -> list[str]:
    """cfn-lint's errors and warnings on the template, with tests/infra/cfn-lint.yaml's settings."""
    import yaml
    from cfnlint.api import ManualArgs, lint

    config = yaml.safe_load(LINT_CONFIG.read_text())
    matches = lint(json.dumps(synthesized.json),
                   config=ManualArgs(regions=config["regions"], ignore_checks=config["ignore_checks"]))
    return [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches if m.rule.id[0] in ("E", "W")]


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
