"""cdk-nag (AwsSolutions), cfn-lint and checkov on the synthesized template."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.infra.conftest import ROOT, cfn_lint_problems, nag_violations

# Findings that stay, each acknowledged where it arises with its reason (infra/nag.py).
ACKNOWLEDGED_RULES = {
    "AwsSolutions-IAM5[Resource::*]",
    "AwsSolutions-IAM5[Resource::<StorageMediaBucket4E4E9C18.Arn>/uploads/*]",
    "AwsSolutions-IAM5[Resource::<StorageMediaBucket4E4E9C18.Arn>/results/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:transcribe:<AWS::Region>:<AWS::AccountId>:transcription-job/media-*]",
    # reconcile describes, finalize reads the history of, this one state machine's executions (media ids)
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<WorkflowStateMachine8F1B1C15.Name>:*]",
    # backfill (infra/backfill.py): its report folder, and the Distributed Map's child executions of itself
    "AwsSolutions-IAM5[Resource::<StorageMediaBucket4E4E9C18.Arn>/backfill/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:MediaPipeline-backfill/*]",
    "AwsSolutions-L1",
    "AwsSolutions-ECS2",
    "AwsSolutions-SQS3",
    # The web page and API (infra/web.py)
    "AwsSolutions-COG2", "AwsSolutions-COG3", "AwsSolutions-COG8",
    "AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR3", "AwsSolutions-CFR4",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:<WorkflowStateMachine8F1B1C15.Name>:*]",
    # CDK's BucketDeployment, which copies the page into its bucket
    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
    "AwsSolutions-IAM5[Action::s3:Abort*]", "AwsSolutions-IAM5[Action::s3:DeleteObject*]",
    "AwsSolutions-IAM5[Action::s3:GetBucket*]", "AwsSolutions-IAM5[Action::s3:GetObject*]",
    "AwsSolutions-IAM5[Action::s3:List*]", "AwsSolutions-IAM5[Resource::<WebPageBucketC48E852E.Arn>/*]",
    "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]",
}


def test_cdk_nag_has_no_unacknowledged_findings(synth):
    assert nag_violations(synth) == []


def test_every_acknowledgment_has_a_reason_and_is_expected(synth):
    suppressed = synth.validation_report["pluginReports"][0].get("suppressedViolations", [])
    assert suppressed
    for finding in suppressed:
        assert len(finding["reason"]) >= 40, finding["ruleName"]
    assert {finding["ruleName"] for finding in suppressed} <= ACKNOWLEDGED_RULES


def test_cfn_lint_finds_no_errors_or_warnings(synth):
    assert cfn_lint_problems(synth) == []


# checkov's findings that stay, each skipped on its resource with its reason (infra/checkov.py).
CHECKOV_DECISIONS = {
    "CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173",  # every function (and CDK's own)
    "CKV_AWS_158", "CKV_AWS_111",  # CDK's BucketDeployment: its log group and its policy
    "CKV_AWS_27",  # SQS-managed encryption, which checkov does not recognise
    "CKV_AWS_18", "CKV_AWS_21",  # the access log bucket; the page bucket's versioning
    "CKV_AWS_68", "CKV_AWS_86", "CKV_AWS_174",  # the web page's distribution (as cdk-nag's CFR2-CFR4)
}
CHECKOV = ROOT / ".venv" / "checkov" / "bin" / "checkov"  # its own virtualenv (Makefile, requirements-checkov.txt)


@pytest.fixture(scope="module")
def checkov_report(synth) -> dict:
    if not CHECKOV.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHECKOV} is missing: make test installs it (requirements-checkov.txt)")
        pytest.skip("checkov is not installed here: make test (or make checkov) installs it")
    [template] = Path(synth.outdir).glob("*.template.json")
    run = subprocess.run([str(CHECKOV), "-f", str(template), "--framework", "cloudformation",
                          "--compact", "--output", "json", "--skip-download"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode in (0, 1), run.stderr[-3000:]
    return json.loads(run.stdout)


def test_checkov_has_no_failed_checks(checkov_report):
    failed = [(f["check_id"], f["resource"]) for f in checkov_report["results"].get("failed_checks", [])]
    assert failed == []
    assert checkov_report["summary"]["parsing_errors"] == 0
    assert checkov_report["summary"]["passed"] > 500  # it did read the whole template


def test_every_checkov_decision_has_a_reason_and_is_expected(checkov_report):
    skipped = checkov_report["results"].get("skipped_checks", [])
    assert skipped
    for check in skipped:
        assert len(check["check_result"].get("suppress_comment", "")) >= 40, (check["check_id"], check["resource"])
    assert {check["check_id"] for check in skipped} <= CHECKOV_DECISIONS
