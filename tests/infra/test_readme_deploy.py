"""The README's deploy section, run as written up to its first command that needs an AWS account, in an
environment where the project's virtualenv is not activated."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEEDS_AN_ACCOUNT = ("bootstrap", "deploy", "destroy", "aws ", "--stack")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("npx") is None, reason="needs Node.js (npx) for the CDK CLI")]


def deploy_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Deploy to your AWS account"):]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    commands = []
    for line in block.splitlines():
        command = line.split("  #")[0].strip()
        if not command or command.startswith("#"):
            continue
        if any(word in command for word in NEEDS_AN_ACCOUNT):
            break
        commands.append(command)
    return commands


def test_readme_deploy_commands_run_without_activating_the_venv(tmp_path: Path) -> None:
    commands = deploy_commands()
    assert commands == ["make setup", "npx aws-cdk@2 synth"]
    env = {name: value for name, value in os.environ.items() if name not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["npm_config_yes"] = "true"  # npx's "Ok to proceed?" has no one to answer it here
    for command in commands:
        args = shlex.split(command)
        if args[:2] == ["npx", "aws-cdk@2"]:  # offline (no pip for the functions' packages), into a scratch folder
            args += ["-c", "bundling=false", "--output", str(tmp_path / "cdk.out")]
        run = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, f"{command}: {run.stderr[-3000:]}"
    assert (tmp_path / "cdk.out" / "MediaPipeline.template.json").is_file()
