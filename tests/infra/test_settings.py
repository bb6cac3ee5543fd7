import json
import subprocess
import sys

import aws_cdk as cdk
import pytest

from infra.application import CDK_JSON
from infra.settings import DEFAULTS, PipelineSettings, SettingsError

ROOT = CDK_JSON.parent


def _settings(**context):
    return PipelineSettings.from_context(cdk.App(context=context).node)


def _refused(**context) -> list[str]:
    with pytest.raises(SettingsError) as refused:
        _settings(**context)
    return refused.value.problems


def test_cdk_json_sets_every_key_with_the_documented_default():
    context = json.loads(CDK_JSON.read_text())["context"]
    for key, default in DEFAULTS.items():
        assert context[key] == default, key


def test_command_line_strings_are_typed():
    settings = _settings(bundling="false", worker_cpu="1024", worker_memory_mib="2048", log_retention_days="7",
                         retain_data="false")
    assert settings.bundling is False and settings.retain_data is False
    assert settings.worker_cpu == 1024 and settings.log_retention_days == 7


@pytest.mark.parametrize("context, words", [
    ({"enrichment_token_budget": "-1"}, ["enrichment_token_budget=-1", "must be 1 or more"]),
    ({"transcribe_language": "klingon"}, ["transcribe_language=klingon", "auto", "en-US"]),
    ({"transcribe_language": "en-us"}, ["transcribe_language=en-us", "did you mean en-US?"]),
    ({"bedrock_model_id": "nonsense"}, ["bedrock_model_id=nonsense", "amazon.nova-lite-v1:0", "ARN"]),
    ({"video_lambda_max_seconds": "100000"}, ["video_lambda_max_seconds=100000", "at most 3,600"]),
    ({"worker_networking": "hybrid"}, ["worker_networking=hybrid", "public, private"]),
    ({"log_retention_days": "10"}, ["log_retention_days=10", "14"]),
    ({"worker_cpu": "1000"}, ["worker_cpu=1000", "1024"]),
    ({"worker_cpu": "1024", "worker_memory_mib": "1000"}, ["worker_memory_mib=1000", "2048 to 8192 in steps of 1024"]),
    ({"max_media_bytes": "3000000000"}, ["max_media_bytes=3000000000", "at most 2,147,483,648"]),
    ({"enrichment_max_input_tokens": "many"}, ["enrichment_max_input_tokens=many", "whole number"]),
    ({"pii_redaction": "maybe"}, ["pii_redaction=maybe", "true or false"]),
    ({"stack_name": "my stack"}, ["stack_name=my stack", "CloudFormation stack name"]),
    ({"results_prefix": "uploads/results/"}, ["must not overlap"]),
    ({"upload_prefix": "uploads"}, ["upload_prefix=uploads", "ends with /"]),
    ({"pii_redaction": True, "transcribe_language": "de-DE"}, ["en-US or es-US"]),  # what Transcribe redacts
    ({"transcribe_langauge": "de-DE"}, ["transcribe_langauge: no such setting; did you mean transcribe_language?"]),
    ({"zzz_qqq": "x"}, ["zzz_qqq: no such setting", "docs/deploy.md"]),
    ({"reconcile_grace_minutes": "0"}, ["reconcile_grace_minutes=0", "1 or more"]),  # reconcile would race ingest
    ({"ingest_max_concurrency": "1"}, ["ingest_max_concurrency=1", "2"]),  # SQS event sources take 2 to 1000
    ({"capacity_lease_seconds": "5"}, ["capacity_lease_seconds=5", "60"]),
])
def test_each_bad_value_is_one_line_naming_the_key_and_what_it_accepts(context, words):
    [problem] = _refused(**context)
    assert "\n" not in problem
    for word in words:
        assert word in problem, problem


def test_every_problem_is_reported_at_once():
    assert len(_refused(enrichment_token_budget="-1", transcribe_language="klingon", bedrock_model_id="nonsense",
                        video_lambda_max_seconds="100000", transcribe_langauge="de-DE")) == 5


@pytest.mark.parametrize("model_id", [
    "amazon.nova-lite-v1:0", "us.amazon.nova-lite-v1:0", "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-3-5-sonnet-20240620-v1:0", "meta.llama3-8b-instruct-v1:0", "us-gov.amazon.nova-lite-v1:0",
    "anthropic.claude-v2:1:200k", "local.extractive-textrank-yake",
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
    "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
])
def test_model_ids_and_arns_bedrock_takes_are_accepted(model_id):
    assert _settings(bedrock_model_id=model_id).bedrock_model_id == model_id


def test_cdk_own_context_keys_are_not_settings():
    settings = _settings(**{"@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:enable-path-metadata": True,
                            "availability-zones:account=123:region=us-east-1": ["a"]})
    assert settings.stack_name == "MediaPipeline"


def test_deploy_guide_lists_every_key():
    guide = (ROOT / "docs" / "deploy.md").read_text()
    for key in DEFAULTS:
        assert f"`{key}`" in guide, key


def test_pii_redaction_accepts_the_languages_transcribe_redacts():
    for language in ("auto", "en-US", "es-US"):
        assert _settings(pii_redaction="true", transcribe_language=language).pii_redaction is True


def test_synth_refuses_bad_settings_in_one_line_each_without_a_traceback():
    run = subprocess.run([sys.executable, "app.py", "-c", "bundling=false", "-c", "enrichment_token_budget=-1",
                          "-c", "transcribe_language=klingon", "-c", "bedrock_model_id=nonsense",
                          "-c", "video_lambda_max_seconds=100000", "-c", "transcribe_langauge=de-DE"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    lines = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 5, run.stderr
    assert "Traceback" not in run.stderr
    assert "error: setting transcribe_langauge: no such setting; did you mean transcribe_language?" in lines
