import json

import aws_cdk as cdk
import pytest

from infra.application import CDK_JSON
from infra.settings import DEFAULTS, PipelineSettings


def _settings(**context):
    return PipelineSettings.from_context(cdk.App(context=context).node)


def test_cdk_json_sets_every_key_with_the_documented_default():
    context = json.loads(CDK_JSON.read_text())["context"]
    for key, default in DEFAULTS.items():
        assert context[key] == default, key


def test_command_line_strings_are_typed():
    settings = _settings(bundling="false", worker_cpu="1024", log_retention_days="7")
    assert settings.bundling is False
    assert settings.worker_cpu == 1024 and settings.log_retention_days == 7


@pytest.mark.parametrize("context", [
    {"results_prefix": "uploads/results/"},
    {"upload_prefix": "uploads"},
    {"worker_networking": "hybrid"},
    {"reconcile_grace_minutes": 0},  # reconcile would race ingest
    {"pii_redaction": True, "transcribe_language": "de-DE"},  # Transcribe redacts en-US and es-US only
])
def test_invalid_settings_are_refused(context):
    with pytest.raises(ValueError):
        _settings(**context)


def test_deploy_guide_lists_every_key():
    guide = (CDK_JSON.parent / "docs" / "deploy.md").read_text()
    for key in DEFAULTS:
        assert f"`{key}`" in guide, key


def test_pii_redaction_accepts_the_languages_transcribe_redacts():
    for language in ("auto", "en-US", "es-US"):
        assert _settings(pii_redaction="true", transcribe_language=language).pii_redaction is True
