import json
import re
from pathlib import Path

from infra.workflow import FUNCTION_SUBSTITUTIONS, SUBSTITUTION_NAMES
from tests.infra.conftest import ASL_FILE, state_names


def _state_machine(synth, construct=None):
    """The Standard state machine (or another one of the stack's)."""
    construct = construct or synth.stack.workflow.state_machine
    return synth.json["Resources"][synth.logical_id(construct)]["Properties"]


def _express(synth):
    return _state_machine(synth, synth.stack.workflow.express_state_machine)


def _definition_asset(synth) -> Path:
    """The definition is deployed from an S3 asset: the file CDK staged for it in the cloud assembly."""
    location = _state_machine(synth)["DefinitionS3Location"]
    key = location["Key"]
    (staged,) = [p for p in synth.outdir.glob("asset.*") if key.startswith(p.name.split(".")[1])]
    return staged


def test_standard_with_full_logging_to_an_encrypted_group_and_tracing(synth):
    props = _state_machine(synth)
    assert props.get("StateMachineType", "STANDARD") == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True
    log_group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = synth.json["Resources"][log_group_id]["Properties"]
    assert "KmsKeyId" in log_group
    assert log_group["RetentionInDays"] == synth.stack.settings.log_retention_days


def test_the_deployed_definition_is_the_asl_file(synth, asl):
    staged = _definition_asset(synth)
    assert staged.read_bytes() == ASL_FILE.read_bytes()
    names = state_names(json.loads(staged.read_text()))
    assert {"Transcribe", "StartTranscription", "RecordFailure"} <= names  # recursion reached the Map
    assert names == state_names(asl)


def test_substitutions_are_the_names_the_asl_file_uses(synth):
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", ASL_FILE.read_text()))
    assert set(SUBSTITUTION_NAMES) == used
    assert set(_state_machine(synth)["DefinitionSubstitutions"]) == used


def test_local_mode_uses_the_same_substitution_names():
    from media_pipeline.local.account import SUBSTITUTIONS

    assert set(SUBSTITUTIONS) == set(SUBSTITUTION_NAMES)


def test_function_substitutions_point_at_the_functions(synth):
    substitutions = _state_machine(synth)["DefinitionSubstitutions"]
    for name, function in FUNCTION_SUBSTITUTIONS.items():
        assert substitutions[name] == {"Fn::GetAtt": [synth.logical_id(synth.stack.functions[function]), "Arn"]}


def test_run_task_state_uses_the_worker_task_definition(synth, asl):
    run_task = asl["States"]["ExtractMediaOnFargate"]
    assert run_task["Resource"] == "arn:aws:states:::ecs:runTask.waitForTaskToken"
    assert run_task["Parameters"]["TaskDefinition"] == "${MediaWorkerTaskDefinitionArn}"
    substitutions = _state_machine(synth)["DefinitionSubstitutions"]
    task_definition_id, _ = synth.one("AWS::ECS::TaskDefinition")
    assert substitutions["MediaWorkerTaskDefinitionArn"] == {"Ref": task_definition_id}
    assert substitutions["MediaWorkerAssignPublicIp"] == "ENABLED"
    assert substitutions["MediaWorkerContainerName"] == "media-worker"


def test_state_machine_role_invokes_the_steps_and_runs_the_worker(synth):
    role_ref = _state_machine(synth)["RoleArn"]["Fn::GetAtt"][0]
    statements = [s for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role_ref} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    invoke = next(s for s in statements if s["Action"] == "lambda:InvokeFunction")
    assert len(invoke["Resource"]) == len(set(FUNCTION_SUBSTITUTIONS.values()))
    run_task = next(s for s in statements if s["Action"] == "ecs:RunTask")
    assert run_task["Resource"] == {"Ref": synth.one("AWS::ECS::TaskDefinition")[0]}
    pass_role = next(s for s in statements if s["Action"] == "iam:PassRole")
    assert len(pass_role["Resource"]) == 2


def test_outputs_the_cli_reads(synth):
    assert {"MediaBucketName", "UploadPrefix", "JobsTableName", "StateMachineArn", "IngestQueueUrl",
            "DeadLetterQueueUrl"} <= set(synth.json["Outputs"])


def test_local_mode_and_deployment_read_the_same_definition(synth):
    """The local runtime deploys account.asl_path() into the emulator; CDK deploys DEFINITION_FILE as an asset."""
    from infra.workflow import DEFINITION_FILE
    from media_pipeline.local.account import asl_path, resolve_definition, SUBSTITUTIONS

    assert asl_path().resolve() == DEFINITION_FILE.resolve() == ASL_FILE.resolve()
    deployed = json.loads(_definition_asset(synth).read_text())
    local = json.loads(resolve_definition(asl_path().read_text(), {name: f"<{name}>" for name in SUBSTITUTIONS}))
    assert state_names(local) == state_names(deployed)
    assert json.dumps(local).replace("<", "${").replace(">", "}") == json.dumps(deployed)


# ---- the Express workflow for images (media_pipeline/workflows.py) -------------------------------------------

def test_the_pipeline_is_a_standard_and_an_express_state_machine(synth):
    kinds = {logical_id: p["Properties"].get("StateMachineType", "STANDARD")
             for logical_id, p in synth.resources("AWS::StepFunctions::StateMachine").items()}
    assert kinds[synth.logical_id(synth.stack.workflow.state_machine)] == "STANDARD"
    assert kinds[synth.logical_id(synth.stack.workflow.express_state_machine)] == "EXPRESS"
    assert sorted(kinds.values()) == ["EXPRESS", "STANDARD", "STANDARD"]  # and the backfill (infra/backfill.py)


def test_express_logs_everything_to_its_own_encrypted_group_and_is_traced(synth):
    props = _express(synth)
    assert props["StateMachineType"] == "EXPRESS"
    assert props["TracingConfiguration"] == {"Enabled": True}
    logging = props["LoggingConfiguration"]
    assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is True  # its only record: no history
    log_group_id = logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    assert log_group_id == synth.logical_id(synth.stack.workflow.express_log_group)
    assert log_group_id != _state_machine(synth)["LoggingConfiguration"]["Destinations"][0][
        "CloudWatchLogsLogGroup"]["LogGroupArn"]["Fn::GetAtt"][0]
    log_group = synth.json["Resources"][log_group_id]["Properties"]
    assert "KmsKeyId" in log_group and log_group["RetentionInDays"] == synth.stack.settings.log_retention_days
    assert log_group["LogGroupName"] == f"/aws/vendedlogs/states/{synth.stack.stack_name}-media-pipeline-express"


def test_express_definition_is_derived_from_the_asl_file_with_its_substitutions(synth, asl):
    from media_pipeline import workflows

    props = _express(synth)
    expected = workflows.express_definition(asl)
    assert json.loads(props["DefinitionString"]) == expected  # inline: no asset, the same states
    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", props["DefinitionString"]))
    assert set(props["DefinitionSubstitutions"]) == used
    assert used == {"AnalyzeDocumentFunctionArn", "CollectDocumentTextFunctionArn", "IdentifyLanguageFunctionArn",
                    "RedactPiiFunctionArn", "EnrichFunctionArn", "FinalizeFunctionArn"}
    for name in used:
        function = FUNCTION_SUBSTITUTIONS[name]
        assert props["DefinitionSubstitutions"][name] == {
            "Fn::GetAtt": [synth.logical_id(synth.stack.functions[function]), "Arn"]}


def test_ingest_may_start_express_executions_and_knows_the_state_machine(synth):
    ingest = synth.stack.functions["ingest"]
    environment = synth.json["Resources"][synth.logical_id(ingest)]["Properties"]["Environment"]["Variables"]
    assert environment["EXPRESS_STATE_MACHINE_ARN"] == {"Ref": synth.logical_id(synth.stack.workflow.express_state_machine)}
    role = synth.logical_id(ingest.role)
    starts = [s for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role} in p["Properties"]["Roles"]
              for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Action"] == "states:StartExecution"]
    resources = [r for s in starts for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])]
    assert sorted(r["Ref"] for r in resources) == sorted([  # the two state machines' ARNs, nothing wider
        synth.logical_id(synth.stack.workflow.state_machine), synth.logical_id(synth.stack.workflow.express_state_machine)])
