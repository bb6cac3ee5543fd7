"""The step registry (media_pipeline/steps.py) is the one list of steps: the function folders, the ASL and the
registry agree, the registry is pure data, and a disagreement is said in one message that says what to do."""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

from media_pipeline import steps

ROOT = Path(__file__).resolve().parents[1]
ASL = ROOT / "statemachines" / "media_pipeline.asl.json"


def test_folders_registry_and_asl_agree():
    assert steps.problems(ROOT, ASL.read_text()) == []


def test_the_registry_imports_no_aws_library():
    tree = ast.parse((ROOT / "media_pipeline" / "steps.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "re", "dataclasses", "pathlib", "typing"}


def test_a_folder_without_a_registry_entry_is_one_clear_problem(tmp_path):
    shutil.copytree(ROOT / "functions", tmp_path / "functions")
    (tmp_path / "functions" / "example_step").mkdir()
    (tmp_path / "functions" / "example_step" / "handler.py").write_text("def handler(event, context):\n    return {}\n")
    asl = ASL.read_text() + '\n{"Resource": "${ExampleStepFunctionArn}"}'  # the new state, as the recipe adds it
    assert steps.problems(tmp_path, asl) == [
        "functions/example_step/ has no entry in media_pipeline/steps.py: add a Step('example_step', ...) to STEPS "
        "(docs/adding-a-step.md)",
        "the ASL uses ${ExampleStepFunctionArn} but no step invoked by the state machine has that name: add the step "
        "to media_pipeline/steps.py (without a trigger)",
    ]


def test_every_event_pattern_is_written_once():
    """The deployed rules and the local runtime's both come from the registry (they had drifted apart)."""
    import inspect

    from infra import ai_services, ingest
    from media_pipeline.local import runtime

    for module in (ai_services, ingest, runtime):
        source = inspect.getsource(module)
        assert '"aws.transcribe"' not in source and '"aws.s3"' not in source, module.__name__
