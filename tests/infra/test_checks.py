"""cdk-nag (AwsSolutions) and cfn-lint on the synthesized template."""
from tests.infra.conftest import cfn_lint_problems, nag_violations

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
