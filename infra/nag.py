"""cdk-nag (AwsSolutions) acknowledgments: one way to record a finding that stays, and why it stays.

cdk-nag 3.x reads CDK's own `Validations.of(scope).acknowledge(...)`; an id with a bracketed finding
(`AwsSolutions-IAM5[Resource::*]`) acknowledges that finding only, like cdk-nag 2.x's `appliesTo`.
"""
from __future__ import annotations

from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """`rule` as cdk-nag reports it, e.g. `AwsSolutions-L1` or `AwsSolutions-IAM5[Resource::*]`."""
    if len(reason) < 20:
        raise ValueError(f"acknowledging {rule} needs a specific reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule}", reason=reason))


def finding_resource(scope: IConstruct, value: str) -> str:
    """A resource as cdk-nag names it in a finding: `arn:<AWS::Partition>:...`, `<Logical.Arn>/uploads/*`."""
    return _flatten(Stack.of(scope).resolve(value))


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{value['Fn::GetAtt'][0]}.{value['Fn::GetAtt'][1]}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(_flatten(part) for part in parts)
    raise ValueError(f"cannot name {value!r} as cdk-nag does")


# Finding ids shared by several constructs.
XRAY_REASON = ("X-Ray's PutTraceSegments and PutTelemetryRecords support no resource-level permissions; "
               "Resource '*' is what active tracing requires")
