"""Log groups of the pipeline: one way to make them, all with a retention and one KMS key."""
from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

# CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS: dict[int, logs.RetentionDays] = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS, 365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS, 545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS, 1096: logs.RetentionDays.THREE_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS, 2557: logs.RetentionDays.SEVEN_YEARS, 2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS, 3653: logs.RetentionDays.TEN_YEARS,
}


def retention_for(days: int) -> logs.RetentionDays:
    try:
        return RETENTION_DAYS[days]
    except KeyError:
        raise ValueError(f"log_retention_days must be one of {sorted(RETENTION_DAYS)}, got {days}") from None


class Observability(Construct):
    """The logs' KMS key and the factory method for log groups (functions, state machine, worker, VPC)."""

    def __init__(self, scope: Construct, construct_id: str, *, log_retention_days: int,
                 retain_data: bool = True) -> None:
        super().__init__(scope, construct_id)
        self.retention = retention_for(log_retention_days)
        stack = Stack.of(self)
        self.log_key = kms.Key(
            self, "LogKey",
            description="Encrypts the media pipeline's CloudWatch log groups",
            enable_key_rotation=True,
            # Kept with the data by default (old log events stay readable); deleted 7 days after the stack otherwise.
            removal_policy=RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # CloudWatch Logs encrypts with the key only for log groups of this account and region.
        self.log_key.add_to_resource_policy(iam.PolicyStatement(
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
            resources=["*"],
            conditions={"ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*",
            }},
        ))

    def log_group(self, scope: Construct, construct_id: str, *, name: str | None = None) -> logs.LogGroup:
        return logs.LogGroup(
            scope, construct_id,
            log_group_name=name,
            retention=self.retention,
            encryption_key=self.log_key,
            removal_policy=RemovalPolicy.DESTROY,
        )
