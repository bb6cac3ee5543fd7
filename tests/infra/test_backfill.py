"""The backfill state machine (infra/backfill.py): the ASL file deployed as it is, a Distributed Map over the upload
prefix whose settings come from cdk.json, and its output for the CLI."""
from __future__ import annotations

import json
import re

from infra.backfill import DEFINITION_FILE, SUBSTITUTION_NAMES
from tests.infra.test_settings import _refused


def _props(synth) -> dict:
    return synth.json["Resources"][synth.logical_id(synth.stack.backfill.state_machine)]["Properties"]


def _definition(synth) -> dict:
    """The staged definition with the template's substitutions as placeholders a test can read."""
    key = _props(synth)["DefinitionS3Location"]["Key"]
    (staged,) = [p for p in synth.outdir.glob("asset.*") if key.startswith(p.name.split(".")[1])]
    assert staged.read_bytes() == DEFINITION_FILE.read_bytes()
    values = {name: "0" for name in SUBSTITUTION_NAMES}
    return json.loads(re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: values[m.group(1)], staged.read_text()))


def test_a_distributed_map_over_the_objects_in_batches_with_a_report(synth):
    mapping = _definition(synth)["States"]["AdmitObjects"]
    assert mapping["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert mapping["ItemProcessor"]["ProcessorConfig"] == {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}
    assert mapping["ItemBatcher"]["BatchInput"] == {"bucket.$": "$.bucket", "backfill.$": "$$.Execution.Name"}
    assert mapping["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
    task = mapping["ItemProcessor"]["States"]["AdmitBatch"]
    assert task["TimeoutSeconds"] < 300  # an Express child lives 5 minutes at most
    assert {"ThrottledError", "TransientError"} <= set(task["Retry"][0]["ErrorEquals"])


def test_the_settings_reach_the_map(synth):
    props = _props(synth)
    substitutions = props["DefinitionSubstitutions"]
    assert set(substitutions) == set(SUBSTITUTION_NAMES)
    settings = synth.stack.settings
    assert (substitutions["BatchSize"], substitutions["MaxConcurrency"], substitutions["ToleratedFailurePercentage"]) \
        == (str(settings.backfill_batch_size), str(settings.backfill_max_concurrency),
            str(settings.backfill_tolerated_failure_percentage))
    assert substitutions["ReportBucket"] == {"Ref": synth.logical_id(synth.stack.storage.bucket)}
    assert substitutions["BackfillItemsFunctionArn"] == {
        "Fn::GetAtt": [synth.logical_id(synth.stack.functions["backfill_items"]), "Arn"]}
    assert props["StateMachineName"] == "MediaPipeline-backfill"  # its role names it: the children are its executions
    assert props["TracingConfiguration"] == {"Enabled": True} and props["LoggingConfiguration"]["Level"] == "ALL"
    assert "BackfillStateMachineArn" in synth.json["Outputs"]


def test_the_local_account_resolves_the_same_names():
    from media_pipeline.local import account

    used = set(re.findall(r"\$\{([A-Za-z0-9]+)\}", account.backfill_asl_path().read_text()))
    assert used == set(SUBSTITUTION_NAMES)
    assert set(account.BACKFILL_SETTINGS) | {"BackfillItemsFunctionArn", "ReportBucket", "ReportPrefix"} == used


def test_backfill_settings_are_checked():
    problems = _refused(backfill_tolerated_failure_percentage="101", backfill_batch_size="0",
                        backfill_max_concurrency="many")
    assert "backfill_tolerated_failure_percentage=101: must be 0 or more and at most 100" in problems
    assert "backfill_batch_size=0: must be 1 or more and at most 1,000" in problems
    assert any(p.startswith("backfill_max_concurrency=many: expected a whole number") for p in problems)
