#!/usr/bin/env python3
"""The CDK app. `npx aws-cdk@2 synth|deploy` runs it; `python app.py [-c key=value ...]` synthesizes
into cdk.out/ directly. Neither needs AWS credentials or Docker (Docker only builds the worker image
at deploy time)."""
import importlib.util
import os
import sys
from pathlib import Path


def use_project_venv() -> None:
    """Run in the project's .venv (made by `make setup`) when this Python lacks the CDK libraries, so `cdk.json`'s
    `python3 app.py` works without activating anything; an interpreter that has them (an active venv) is kept."""
    if importlib.util.find_spec("aws_cdk") is not None:
        return
    root = Path(__file__).resolve().parent
    for venv_python in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if venv_python.exists() and Path(sys.prefix).resolve() != (root / ".venv").resolve():  # not in it already
            os.execv(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]])
    print("error: the CDK libraries are not installed: run `make setup` (it creates .venv/) first", file=sys.stderr)
    sys.exit(1)


use_project_venv()

# Node 20 still runs the CDK's jsii kernel; its end-of-life banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.application import create_app  # noqa: E402 - after the environment is set
from infra.settings import SettingsError  # noqa: E402


def context_arguments(argv: list[str]) -> dict[str, str]:
    """`-c key=value` pairs, as the CDK CLI takes them."""
    context: dict[str, str] = {}
    for flag, value in zip(argv, argv[1:]):
        if flag in ("-c", "--context") and "=" in value:
            key, _, item = value.partition("=")
            context[key] = item
    return context


try:
    app, _ = create_app(context=context_arguments(sys.argv[1:]))
except SettingsError as exc:  # one line per refused setting, no traceback
    for problem in exc.problems:
        print(f"error: setting {problem}", file=sys.stderr)
    sys.exit(1)
app.synth()
