"""The commands that talk to a deployed stack, against moto: one-line errors, --region, content-hash uploads,
and the teardown of a stack deployed with the default retain (buckets with versions and delete markers)."""
from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from media_pipeline import cli
from media_pipeline.cli import exits, teardown
from media_pipeline.cli.stack import Stack, session

REGION = "eu-west-1"
# What a deployed stack keeps on `cdk destroy` (retain_data: true), with the outputs the CLI reads. moto's
# CloudFormation cannot create the whole synthesized template; these are its retained resource types.
TEMPLATE = {
    "Resources": {
        "MediaBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"},
        "AccessLogBucket": {"Type": "AWS::S3::Bucket", "DeletionPolicy": "Retain"},
        "JobsTable": {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}]}},
        "LogKey": {"Type": "AWS::KMS::Key", "DeletionPolicy": "Retain", "Properties": {  # a string: moto's describe_key
            "KeyPolicy": json.dumps({"Version": "2012-10-17", "Statement": []})}},    # reads it as one
        "IngestQueue": {"Type": "AWS::SQS::Queue"},
    },
    "Outputs": {"MediaBucketName": {"Value": {"Ref": "MediaBucket"}}, "JobsTableName": {"Value": {"Ref": "JobsTable"}},
                "UploadPrefix": {"Value": "uploads/"}, "ResultsPrefix": {"Value": "results/"}},
}


@pytest.fixture
def deployed(aws_env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    with mock_aws():
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        cloudformation.create_stack(StackName="MediaPipeline", TemplateBody=json.dumps(TEMPLATE))
        yield Stack.describe("MediaPipeline", session(region=REGION))


def test_status_without_a_region_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    for command in (["status", "0" * 32, "--stack", "MediaPipeline"],
                    ["results", "0" * 32, "--stack", "MediaPipeline", "--out", str(tmp_path)]):
        assert cli.main(command) == exits.ERROR
        err = capsys.readouterr().err
        assert err == ("media-pipeline: no AWS region: pass --region REGION, or set AWS_REGION "
                       "(or a region in your AWS profile)\n")


def test_unknown_profile_and_missing_stack_are_one_line(deployed, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "0" * 32, "--stack", "MediaPipeline", "--profile", "no-such-profile"]) == exits.ERROR
    assert capsys.readouterr().err == ("media-pipeline: The config profile (no-such-profile) could not be found "
                                       "(see `aws configure list-profiles`)\n")
    assert cli.main(["status", "0" * 32, "--stack", "Nope", "--region", REGION]) == exits.ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Stack with id Nope does not exist" in err and "--region" in err


def test_status_with_region_reads_the_stack(deployed, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "0" * 32, "--stack", "MediaPipeline", "--region", REGION]) == exits.ERROR
    assert capsys.readouterr().err == f"media-pipeline: no job {'0' * 32} in stack MediaPipeline\n"


def test_the_same_file_sent_twice_is_one_item(deployed, tmp_path: Path) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_bucket_versioning(Bucket=deployed.bucket, VersioningConfiguration={"Status": "Enabled"})
    talk = tmp_path / "talk.mp3"
    talk.write_bytes(b"ID3" + bytes(range(256)) * 8)
    sent: list[int] = []
    first = deployed.upload(talk, sent.append)
    again = deployed.upload(talk, sent.append)
    assert first == again and sum(sent) == talk.stat().st_size  # sent once
    versions = s3.list_object_versions(Bucket=deployed.bucket)["Versions"]
    assert len(versions) == 1 and versions[0]["Key"].startswith("uploads/") and versions[0]["Key"].endswith("/talk.mp3")
    talk.write_bytes(b"ID3 changed")
    assert deployed.upload(talk, sent.append) != first  # other content: another item


def test_teardown_removes_a_retained_stack_and_all_its_data(deployed, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(teardown, "WAIT_SECONDS", 0)
    s3, dynamodb, kms = (boto3.client(name, region_name=REGION) for name in ("s3", "dynamodb", "kms"))
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    buckets = [r["PhysicalResourceId"] for r in cloudformation.list_stack_resources(StackName="MediaPipeline")[
        "StackResourceSummaries"] if r["ResourceType"] == "AWS::S3::Bucket"]
    [key_id] = [r["PhysicalResourceId"] for r in cloudformation.list_stack_resources(StackName="MediaPipeline")[
        "StackResourceSummaries"] if r["ResourceType"] == "AWS::KMS::Key"]
    for bucket in buckets:  # versioned, with old versions and a delete marker, as a used stack's are
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        for body in (b"one", b"two"):
            s3.put_object(Bucket=bucket, Key="results/a/transcript.txt", Body=body)
        s3.put_object(Bucket=bucket, Key="uploads/talk.mp3", Body=b"ID3")
        s3.delete_object(Bucket=bucket, Key="uploads/talk.mp3")
    dynamodb.put_item(TableName=deployed.table, Item={"pk": {"S": "MEDIA#a"}, "sk": {"S": "JOB"}})

    assert cli.main(["teardown", "--stack", "MediaPipeline", "--region", REGION, "--yes"]) == exits.OK
    out = capsys.readouterr().out
    assert "deleting stack MediaPipeline" in out and out.count("(4 object versions and delete markers)") == 2
    assert s3.list_buckets()["Buckets"] == []
    assert dynamodb.list_tables()["TableNames"] == []
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingDeletion"
    with pytest.raises(cloudformation.exceptions.ClientError):
        cloudformation.describe_stacks(StackName="MediaPipeline")


def test_teardown_asks_first(deployed, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["teardown", "--stack", "MediaPipeline", "--region", REGION]) == exits.USAGE
    assert "nothing deleted" in capsys.readouterr().err
    assert boto3.client("cloudformation", region_name=REGION).describe_stacks(StackName="MediaPipeline")["Stacks"]
