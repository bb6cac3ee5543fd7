"""checkov (policy as code) decisions: each finding that stays on the template, recorded on its resource with why.

checkov reads `Metadata.checkov.skip` ([{"id": ..., "comment": ...}]) of a CloudFormation resource and reports the
check as skipped with the comment. Like the cdk-nag acknowledgments (infra/nag.py), a decision is made where the
resource is made, or, for what every function shares, once here. tests/infra/test_checks.py runs checkov on the
synthesized template: no failed check, every skip with a reason, and only the decisions listed there.
"""
from __future__ import annotations

import jsii
from aws_cdk import CfnResource, IAspect
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from media_pipeline import steps

# Every function of the stack, ours and CDK's own.
FUNCTION_DECISIONS = {
    "CKV_AWS_115": ("No reserved concurrency: a reservation is taken from the account's pool, and new or workshop "
                    "accounts (a limit of 10) then refuse the deploy. The pipeline bounds its own concurrency where "
                    "it matters: ingest's SQS maximum concurrency (ingest_max_concurrency), the Textract slots "
                    "(textract_max_jobs) and Transcribe's own job queue (docs/architecture.md, Bursts and quotas)"),
    "CKV_AWS_117": ("Not in a VPC: the functions reach only AWS service APIs, over TLS and signed with their own "
                    "role; a VPC would add a NAT gateway or an interface endpoint per service (each billed by the "
                    "hour) for no network path that needs one"),
    "CKV_AWS_173": ("The environment holds resource names and settings, no secret; Lambda encrypts it at rest with "
                    "its AWS managed key, and a customer key would add a KMS grant and a call to every cold start"),
}

# How failed invocations are kept, by how a function is reached (media_pipeline/steps.py triggers).
DEAD_LETTER_DECISIONS = {
    None: ("Invoked synchronously by the state machine: a failure is the state's Retry and Catch, which record it "
           "in the item's FAILED manifest; a dead-letter queue only serves asynchronous invocations"),
    steps.UPLOADS: ("Invoked by its SQS event source mapping: a message that fails is received again and, after "
                    "the queue's maxReceiveCount, moves to the ingest dead-letter queue (redrive policy)"),
    steps.TRANSCRIBE_EVENTS: ("Asynchronous failures go to its callback dead-letter queue through the on-failure "
                              "destination of its EventInvokeConfig, which keeps the request and the error "
                              "(a DeadLetterConfig would keep the event only)"),
    steps.TEXTRACT_TOPIC: ("Asynchronous failures go to its callback dead-letter queue through the on-failure "
                           "destination of its EventInvokeConfig, which keeps the request and the error "
                           "(a DeadLetterConfig would keep the event only)"),
    steps.EXECUTION_EVENTS: ("Its work is repeated by the capacity sweep every 5 minutes: a lost release is taken "
                             "back when the slot's lease ends (docs/architecture.md, Bursts and quotas)"),
    steps.SCHEDULE: ("A scheduled sweep: what one run fails to do the next run does again; a failed run raises "
                     "the function's error alarm (docs/operations.md)"),
    steps.BACKFILL_MAP: ("Invoked synchronously by the backfill's Distributed Map: a failed batch is the map's "
                         "Retry, then counts against its tolerated failure percentage and is listed in its report"),
    "api": ("Invoked synchronously by API Gateway: the caller gets the error; a dead-letter queue only serves "
            "asynchronous invocations"),
}

# What CDK adds for its own custom resources (the page copy, the default security group's restriction, the buckets'
# auto-delete): code and configuration that are CDK's, run only while CloudFormation deploys.
CDK_REASON = ("Created by CDK for one of its own custom resources and run only while CloudFormation deploys: its "
              "code, role and log group are CDK's, not this application's")
CDK_DECISIONS = {
    "AWS::Lambda::Function": {**FUNCTION_DECISIONS, "CKV_AWS_116": CDK_REASON},
    "AWS::Logs::LogGroup": {"CKV_AWS_158": CDK_REASON},
    "AWS::IAM::Policy": {"CKV_AWS_111": CDK_REASON},
}


def skip(scope: IConstruct, check_id: str, reason: str) -> None:
    """Record a decision on the resource `scope` is (or whose resource it wraps)."""
    if len(reason) < 40:
        raise ValueError(f"skipping {check_id} needs a specific reason")
    resource = scope if isinstance(scope, CfnResource) else scope.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{scope.node.path} has no CloudFormation resource to record {check_id} on")
    decisions = resource.get_metadata("checkov") or {"skip": []}
    if all(entry["id"] != check_id for entry in decisions["skip"]):
        decisions["skip"].append({"id": check_id, "comment": reason})
    resource.add_metadata("checkov", decisions)


def dead_letter_reason(name: str) -> str:
    """The decision for a function of the app, from how the step registry says it is reached."""
    if name in DEAD_LETTER_DECISIONS:
        return DEAD_LETTER_DECISIONS[name]
    step = next((s for s in steps.STEPS if s.name == name), None)
    if step is None or step.trigger not in DEAD_LETTER_DECISIONS:
        raise ValueError(f"function {name}: decide how its failed invocations are kept (infra/checkov.py "
                         "DEAD_LETTER_DECISIONS) before adding it")
    return DEAD_LETTER_DECISIONS[step.trigger]


def acknowledge_function(function: IConstruct, name: str) -> None:
    for check_id, reason in FUNCTION_DECISIONS.items():
        skip(function, check_id, reason)
    skip(function, "CKV_AWS_116", dead_letter_reason(name))


@jsii.implements(IAspect)
class CdkCustomResources:
    """The decisions on what CDK adds for its custom resources (their construct paths hold `Custom::`)."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and "/Custom::" in f"/{node.node.path}":
            for check_id, reason in CDK_DECISIONS.get(node.cfn_resource_type, {}).items():
                skip(node, check_id, reason)


SQS_MANAGED_SSE_REASON = ("Encrypted at rest with SQS-managed server-side encryption (SqsManagedSseEnabled), which "
                          "needs no KMS grant for the services that send to it; checkov recognises only a KMS key")


@jsii.implements(IAspect)
class SqsManagedEncryption:
    """CKV_AWS_27 on a queue that is encrypted, with SQS's own keys: checked on the queue's property, not assumed."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, sqs.CfnQueue) and node.sqs_managed_sse_enabled is True and not node.kms_master_key_id:
            skip(node, "CKV_AWS_27", SQS_MANAGED_SSE_REASON)
