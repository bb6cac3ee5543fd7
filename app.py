#!/usr/bin/env python3
"""The CDK app. `npx aws-cdk@2 synth|deploy` runs it; `python app.py [-c key=value ...]` synthesizes
into cdk.out/ directly. Neither needs AWS credentials or Docker (Docker only builds the worker image
at deploy time)."""
import os
import sys

# Node 20 still runs the CDK's jsii kernel; its end-of-life banner is noise here.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

from infra.application import create_app  # noqa: E402 - after the environment is set


def context_arguments(argv: list[str]) -> dict[str, str]:
    """`-c key=value` pairs, as the CDK CLI takes them."""
    context: dict[str, str] = {}
    for flag, value in zip(argv, argv[1:]):
        if flag in ("-c", "--context") and "=" in value:
            key, _, item = value.partition("=")
            context[key] = item
    return context


app, _ = create_app(context=context_arguments(sys.argv[1:]))
app.synth()
