"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized template."""
import json
from pathlib import Path

import yaml

LINT_CONFIG = Path(__file__).with_name("cfn-lint.yaml")

# Findings that stay, each acknowledged where it arises with its reason (infra/nag.py).
ACKNOWLEDGED_RULES = {
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Resource::<StorageMediaBucket4E4E9C18.Arn>/uploads/*]",
    "AwsSolutions-IAM5[Resource::<StorageMediaBucket4E4E9C18.Arn>/results/*]",
    "AwsSolutions-L1",
    "AwsSolutions-ECS2",
}


def test_cdk_nag_has_no_unacknowledged_findings(synth):
    assert synth.validation_error is None, synth.validation_error
    report = synth.validation_report
    assert report is not None, "cdk-nag did not run"
    (nag,) = [r for r in report["pluginReports"] if r["pluginName"] == "AwsSolutions"]
    assert nag["conclusion"] == "success"
    assert nag["violations"] == []


def test_every_acknowledgment_has_a_reason_and_is_expected(synth):
    suppressed = synth.validation_report["pluginReports"][0].get("suppressedViolations", [])
    assert suppressed
    for finding in suppressed:
        assert len(finding["reason"]) >= 40, finding["ruleName"]
    assert {finding["ruleName"] for finding in suppressed} <= ACKNOWLEDGED_RULES


def test_cfn_lint_finds_no_errors_or_warnings(synth):
    from cfnlint.api import ManualArgs, lint

    config = yaml.safe_load(LINT_CONFIG.read_text())
    template = json.dumps(synth.json)
    matches = lint(template, config=ManualArgs(regions=config["regions"], ignore_checks=config["ignore_checks"]))
    problems = [f"{m.rule.id} {m.message} ({'/'.join(map(str, m.path))})" for m in matches
                if m.rule.id[0] in ("E", "W")]
    assert problems == []
