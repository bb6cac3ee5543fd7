"""`media-pipeline backfill --stack NAME`: the stack's outputs name the bucket, the upload prefix and the backfill
state machine; what the command cannot do is one line on stderr (the run itself: tests/workflow/test_backfill.py)."""
from __future__ import annotations

import contextlib
import io
import json

import boto3
import pytest
from moto import mock_aws

from media_pipeline import cli

REGION = "us-east-1"


@pytest.fixture
def stack(aws_env: dict[str, str]):
    with mock_aws():
        def create(name: str, outputs: dict[str, str]) -> None:
            template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                        "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
            boto3.client("cloudformation", region_name=REGION).create_stack(StackName=name,
                                                                            TemplateBody=json.dumps(template))
        yield create


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli.main(list(argv))
    return status, out.getvalue(), err.getvalue()


def test_another_bucket_is_refused_naming_the_stacks_upload_bucket(stack) -> None:
    stack("Media", {"MediaBucketName": "media-bucket", "UploadPrefix": "uploads/",
                    "BackfillStateMachineArn": f"arn:aws:states:{REGION}:123456789012:stateMachine:Media-backfill"})
    status, out, err = run("backfill", "s3://archive-bucket/2019/", "--stack", "Media", "--region", REGION)
    assert (status, out) == (2, "") and err.count("\n") == 1
    assert "s3://media-bucket/uploads/" in err and "aws s3 sync s3://archive-bucket/2019/" in err


def test_a_stack_without_the_backfill_output_says_to_deploy_this_version(stack) -> None:
    stack("Old", {"MediaBucketName": "media-bucket", "UploadPrefix": "uploads/"})
    status, _, err = run("backfill", "s3://media-bucket/uploads/", "--stack", "Old", "--region", REGION)
    assert status == 1 and "output BackfillStateMachineArn" in err and "Traceback" not in err
