#!/usr/bin/env python3
"""The CDK app. `npx aws-cdk@2 synth|deploy` runs it; `python app.py [-c key=value ...]` synthesizes
into cdk.out/ directly. Neither needs AWS credentials or Docker (Docker only builds the worker image
at deploy time)."""
import sys

from infra.application import create_app


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
