"""The emulator's IAM and limits come from the synthesized template: the committed snapshot must be what the CDK
app synthesizes today (a grant changed in infra/ without regenerating it fails here)."""
from __future__ import annotations

import difflib

from media_pipeline.local import deployment


def test_the_snapshot_is_the_synthesized_template():
    fresh = deployment.render(deployment.snapshot_from_template(deployment.synthesize_template()))
    committed = deployment.SNAPSHOT.read_text(encoding="utf-8")
    diff = "".join(difflib.unified_diff(committed.splitlines(True), fresh.splitlines(True), "committed", "synthesized", n=2))
    assert not diff, ("media_pipeline/local/deployment.json is stale: run `make deployment-snapshot` "
                      "(python -m media_pipeline.local.deployment --write)\n" + diff[:4000])


def test_the_snapshot_keeps_each_functions_settings_as_deployed(synth):
    snapshot = deployment.load()
    functions = {deployment.folder_name(deployment.symbol(logical)): body["Properties"]
                 for logical, body in synth.resources("AWS::Lambda::Function").items()
                 if deployment.folder_name(deployment.symbol(logical)) in snapshot["functions"]}
    assert set(functions) == set(snapshot["functions"])
    for name, properties in functions.items():
        assert snapshot["functions"][name]["timeout_seconds"] == properties["Timeout"], name
        assert snapshot["functions"][name]["memory_mib"] == properties["MemorySize"], name
