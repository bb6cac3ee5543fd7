"""cdk-nag (AwsSolutions) acknowledgments: one way to record a finding that stays, and why it stays.

cdk-nag 3.x reads CDK's own `Validations.of(scope).acknowledge(...)`; an id with a bracketed finding
(`AwsSolutions-IAM5[Resource::*]`) acknowledges that finding only, like cdk-nag 2.x's `appliesTo`.
"""
from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """`rule` as cdk-nag reports it, e.g. `AwsSolutions-L1` or `AwsSolutions-IAM5[Resource::*]`."""
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule} needs a specific reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule}", reason=reason))


# Finding ids shared by several constructs.
XRAY_REASON = ("X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
               "Resource '*' is what active tracing requires")
