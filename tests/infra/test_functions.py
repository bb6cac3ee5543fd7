import pytest

from infra import functions as packaging
from media_pipeline import steps

CONTRACT_FUNCTIONS = {step.name for step in steps.STEPS}
SHARED_ENVIRONMENT = {"MEDIA_BUCKET", "JOBS_TABLE", "EVENT_BUS_NAME", "UPLOAD_PREFIX", "RESULTS_PREFIX",
                      "MAX_MEDIA_BYTES", "TRANSCRIBE_LANGUAGE", "BEDROCK_MODEL_ID", "ENRICHMENT_MAX_INPUT_TOKENS",
                      "ENRICHMENT_TOKEN_BUDGET", "POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE"}


def _function(synth, name):
    return synth.json["Resources"][synth.logical_id(synth.stack.functions[name])]["Properties"]


def test_every_step_of_the_registry_is_deployed_as_described(synth):
    assert set(synth.stack.functions) == CONTRACT_FUNCTIONS
    for step in steps.STEPS:
        function = _function(synth, step.name)
        assert (function["Timeout"], function["MemorySize"], function["Description"]) == (
            step.timeout_seconds, step.memory_mib, step.description)


@pytest.mark.parametrize("name", sorted(CONTRACT_FUNCTIONS))
def test_function_runtime_handler_tracing_and_environment(synth, name):
    function = _function(synth, name)
    assert function["Handler"] == "handler.handler"
    assert function["Runtime"] == packaging.RUNTIME.name
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Architectures"] == ["x86_64"]
    env = function["Environment"]["Variables"]
    assert SHARED_ENVIRONMENT <= set(env)
    assert env["POWERTOOLS_SERVICE_NAME"] == name
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "MediaPipeline"
    assert env["EVENT_BUS_NAME"] == "default"
    assert env["UPLOAD_PREFIX"] == "uploads/" and env["RESULTS_PREFIX"] == "results/"
    assert env["BEDROCK_MODEL_ID"] == synth.stack.settings.bedrock_model_id
    # Its own log group, with the configured retention, encrypted.
    log_group_id = function["LoggingConfig"]["LogGroup"]["Ref"]
    log_group = synth.json["Resources"][log_group_id]["Properties"]
    assert log_group["RetentionInDays"] == synth.stack.settings.log_retention_days
    assert "KmsKeyId" in log_group


def test_step_specific_environment(synth):
    assert "STATE_MACHINE_ARN" in _function(synth, "ingest")["Environment"]["Variables"]
    documents = _function(synth, "start_document_analysis")["Environment"]["Variables"]
    assert {"TEXTRACT_SNS_TOPIC_ARN", "TEXTRACT_ROLE_ARN"} <= set(documents)
    probe = _function(synth, "probe_media")["Environment"]["Variables"]
    assert probe["VIDEO_LAMBDA_MAX_SECONDS"] == str(synth.stack.settings.video_lambda_max_seconds)


def test_package_holds_the_handler_and_the_shared_library_without_the_local_mode(synth):
    asset_hash = _function(synth, "ingest")["Code"]["S3Key"].removesuffix(".zip")
    asset = synth.outdir / f"asset.{asset_hash}"
    assert (asset / "handler.py").is_file()
    assert (asset / "media_pipeline" / "__init__.py").is_file()
    assert (asset / "media_pipeline" / "schemas" / "manifest.schema.json").is_file()
    assert not (asset / "media_pipeline" / "local").exists()
    assert not (asset / "media_pipeline" / "cli").exists()
    assert not list(asset.rglob("__pycache__"))


def test_requirements_are_the_shared_pins_plus_the_functions_own():
    extract = packaging.function_requirements("extract_media")
    assert packaging.pinned("aws-lambda-powertools[tracer]") in extract
    assert packaging.pinned("fastjsonschema") in extract
    assert any(line.startswith("av==") for line in extract)
    assert all("==" in line for line in extract)
    assert not any(line.startswith("av==") for line in packaging.function_requirements("ingest"))


def test_asset_hash_tracks_sources_and_whether_packages_are_installed():
    assert packaging.asset_hash("ingest", install=True) != packaging.asset_hash("ingest", install=False)
    assert packaging.asset_hash("ingest", install=False) == packaging.asset_hash("ingest", install=False)
    assert packaging.asset_hash("ingest", install=False) != packaging.asset_hash("finalize", install=False)
