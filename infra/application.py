"""Builds the CDK app: the stack plus the cdk-nag AwsSolutions checks (used by app.py and the tests)."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from aws_cdk import App, Aspects, Validations
from cdk_nag import AwsSolutionsChecks

from infra import checkov
from infra.settings import PipelineSettings
from infra.stack import MediaPipelineStack


CDK_JSON = Path(__file__).resolve().parents[1] / "cdk.json"


def cdk_json_context() -> dict[str, Any]:
    """cdk.json's context; the CDK CLI passes it itself, `python app.py` and the tests need it read."""
    return dict(json.loads(CDK_JSON.read_text()).get("context", {}))


def create_app(
    *, context: Mapping[str, Any] | None = None, outdir: str | None = None, checks: bool = True,
) -> tuple[App, MediaPipelineStack]:
    # Precedence: cdk.json < the CDK CLI's context (-c) < `context` given here (tests, app.py -c).
    if outdir is None and "CDK_OUTDIR" not in os.environ:
        outdir = "cdk.out"  # `python app.py` without the CLI writes where `cdk deploy --app cdk.out` reads
    app = App(context=cdk_json_context(), post_cli_context=dict(context or {}), outdir=outdir)
    settings = PipelineSettings.from_context(app.node)
    stack = MediaPipelineStack(
        app, settings.stack_name,
        settings=settings,
        description="Event-driven AI media processing pipeline (Transcribe, Textract, Bedrock, Step Functions)",
    )
    Aspects.of(stack).add(checkov.CdkCustomResources())  # checkov's decisions on CDK's own resources
    Aspects.of(stack).add(checkov.SqsManagedEncryption())
    if checks:
        # cdk-nag 3.x runs as a policy validation plugin (its Aspects entry point fails on 3.x).
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app, stack
