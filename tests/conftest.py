"""Fixtures shared by the suite: a moto account with the pipeline's bucket and table, fake Bedrock."""
from __future__ import annotations

import json
import os
from typing import Any, Callable

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "MediaPipeline")
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "media-pipeline-tests")

def pytest_sessionstart(session: pytest.Session) -> None:
    """A step added without its registry entry (or state) stops the run with one message that says what to do,
    instead of a KeyError and the failures that follow from it."""
    from pathlib import Path

    from media_pipeline import steps

    root = Path(__file__).resolve().parents[1]
    from media_pipeline.local import deployment
    from media_pipeline.local.account import stale_snapshot

    problems = steps.problems(root, (root / "statemachines" / "media_pipeline.asl.json").read_text())
    problems += stale_snapshot(deployment.load())
    if problems:
        pytest.exit("the step registry, functions/, the ASL and the deployment snapshot disagree:\n- " + "\n- ".join(problems), returncode=3)


BUCKET = "media-bucket"
TABLE = "media-jobs"
REGION = "us-east-1"


def reset_runtime_caches() -> None:
    from media_pipeline import aws, settings

    aws.reset_clients()
    settings.settings.cache_clear()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        "MEDIA_BUCKET": BUCKET, "JOBS_TABLE": TABLE, "EVENT_BUS_NAME": "default",
        "UPLOAD_PREFIX": "uploads/", "RESULTS_PREFIX": "results/", "TRANSCRIBE_LANGUAGE": "auto",
        "BEDROCK_MODEL_ID": "test.model-v1", "ENRICHMENT_MAX_INPUT_TOKENS": "6000",
        "ENRICHMENT_TOKEN_BUDGET": "200000", "MAX_MEDIA_BYTES": str(50 * 1024 * 1024),
    }
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_runtime_caches()
    yield env
    reset_runtime_caches()


def create_pipeline_resources(region: str = REGION) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=region)
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
    )


@pytest.fixture
def aws(aws_env: dict[str, str]):
    """A moto account with the media bucket (versioned) and the jobs table."""
    from moto import mock_aws

    with mock_aws():
        create_pipeline_resources()
        yield aws_env


class FakeBedrock:
    """Stands in for bedrock-runtime's Converse (moto has none); records every call."""

    def __init__(self, reply: Callable[[str], str] | None = None):
        self.calls: list[dict[str, Any]] = []
        self.reply = reply or (lambda prompt: json.dumps(
            {"title": "A test title", "summary": "A summary of the text.", "keywords": ["test", "media"]}))

    def converse(self, **request: Any) -> dict[str, Any]:
        self.calls.append(request)
        prompt = request["messages"][0]["content"][0]["text"]
        text = self.reply(prompt)
        return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn",
                "usage": {"inputTokens": len(prompt) // 4, "outputTokens": len(text) // 4, "totalTokens": 0}}


@pytest.fixture
def fake_bedrock(aws_env: dict[str, str]) -> FakeBedrock:
    from media_pipeline import aws as aws_clients

    fake = FakeBedrock()
    aws_clients._clients[("bedrock-runtime", None)] = fake
    return fake
