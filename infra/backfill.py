"""Backfill: the Standard state machine `statemachines/backfill.asl.json` (a Distributed Map over the objects under a
prefix of the upload bucket, in batches, each through `functions/backfill_items`), loaded with definition
substitutions like infra/workflow.py. media_pipeline/backfill.py says what a batch does and how the report reads."""
from __future__ import annotations

from pathlib import Path

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.observability import Observability
from media_pipeline import backfill, steps

DEFINITION_FILE = Path(__file__).resolve().parents[1] / "statemachines" / "backfill.asl.json"
FUNCTION_SUBSTITUTION = "BackfillItemsFunctionArn"
# `${Name}` in the ASL file: the function, the map's settings and where the ResultWriter writes the report.
SUBSTITUTION_NAMES: tuple[str, ...] = (FUNCTION_SUBSTITUTION, "BatchSize", "MaxConcurrency",
                                       "ToleratedFailurePercentage", "ReportBucket", "ReportPrefix")
FUNCTION_NAME = steps.triggered_by(steps.BACKFILL_MAP).name


def substitutions(*, function_arn: str, batch_size: int, max_concurrency: int, tolerated_failure_percentage: int,
                  report_bucket: str) -> dict[str, str]:
    """The ASL's substitutions (the local account resolves the same names, media_pipeline/local/account.py)."""
    return {FUNCTION_SUBSTITUTION: function_arn, "BatchSize": str(batch_size), "MaxConcurrency": str(max_concurrency),
            "ToleratedFailurePercentage": str(tolerated_failure_percentage), "ReportBucket": report_bucket,
            "ReportPrefix": backfill.REPORT_PREFIX}


class Backfill(Construct):
    """One execution per `media-pipeline backfill`: a Distributed Map whose children (Express) call `function` on a
    batch of objects; the report is written to `s3://<bucket>/backfill/<map run>/`."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction, bucket: s3.IBucket,
                 upload_prefix: str, batch_size: int, max_concurrency: int, tolerated_failure_percentage: int,
                 observability: Observability, definition_file: Path = DEFINITION_FILE) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # Named, so its role can name it: a Distributed Map starts its children as executions of itself.
        name = f"{stack.stack_name}-backfill"
        self.log_group = observability.log_group(self, "Logs", name=f"/aws/vendedlogs/states/{stack.stack_name}-backfill")
        self.state_machine = sfn.StateMachine(
            self, "StateMachine",
            state_machine_name=name,
            comment="Backfill: the objects under a prefix of the upload bucket through the same ingest",
            definition_body=sfn.DefinitionBody.from_file(str(definition_file)),
            definition_substitutions=substitutions(
                function_arn=function.function_arn, batch_size=batch_size, max_concurrency=max_concurrency,
                tolerated_failure_percentage=tolerated_failure_percentage, report_bucket=bucket.bucket_name),
            state_machine_type=sfn.StateMachineType.STANDARD,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ALL, include_execution_data=False),
            tracing_enabled=True,
        )
        role = self.state_machine.role
        own_arn = stack.format_arn(service="states", resource="stateMachine", resource_name=name,
                                   arn_format=ArnFormat.COLON_RESOURCE_NAME)
        children = stack.format_arn(service="states", resource="execution", resource_name=f"{name}/*",
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME)
        report_objects = bucket.arn_for_objects(f"{backfill.REPORT_PREFIX}/*")
        for statement in (
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn]),
            # ItemReader: ListObjectsV2 under the upload prefix only.
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn],
                                conditions={"StringLike": {"s3:prefix": [f"{upload_prefix}*"]}}),
            # ResultWriter: the report's files (Step Functions' documented actions for it).
            iam.PolicyStatement(actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts",
                                         "s3:PutObject"], resources=[report_objects]),
            # A Distributed Map runs its children as executions of this state machine.
            iam.PolicyStatement(actions=["states:StartExecution"], resources=[own_arn]),
            iam.PolicyStatement(actions=["states:DescribeExecution", "states:StopExecution"], resources=[children]),
        ):
            self.state_machine.add_to_role_policy(statement)
        nag.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                        "CloudWatch Logs delivery actions (logs:CreateLogDelivery, ...) that Step Functions logging "
                        f"needs support no resource-level permissions; {nag.XRAY_REASON}")
        nag.acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, report_objects)}]",
                        "The ResultWriter writes the report under backfill/<map run id>/, a folder named at run time")
        nag.acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, children)}]",
                        "The Distributed Map's child executions of this one state machine, named at run time")
