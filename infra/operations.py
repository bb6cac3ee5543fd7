"""How the pipeline runs: one CloudWatch dashboard and the alarms an operator acts on (docs/operations.md).

The item metrics come from the functions (media_pipeline.observability.record_item: Powertools EMF, namespace
MediaPipeline, service "media-pipeline"); the rest are the services' own (AWS/States, AWS/Lambda, AWS/SQS,
AWS/Bedrock, AWS/Textract). Alarms notify an SNS topic (encrypted; subscribe to it after deploying).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from media_pipeline import steps

NAMESPACE = "MediaPipeline"
SERVICE = "media-pipeline"  # media_pipeline.observability.ITEM_METRICS_SERVICE
MEDIA_TYPES = ("audio", "video", "document", "image", "unknown")
STATUSES = ("SUCCEEDED", "FAILED")
# Reason codes worth a line of their own on the dashboard (docs/reason-codes.md); others are in the search widget.
TIMEOUT_CODE = "TIMEOUT"
ENRICHMENT_FAILED = "ENRICHMENT_FAILED"


@dataclass(frozen=True)
class AlarmThresholds:
    """Where the alarms fire; each is explained in docs/operations.md."""

    failure_rate_percent: float = 10.0        # of the items finished in 15 minutes
    enrichment_failed_percent: float = 20.0   # of the items finished in 15 minutes, three periods in a row
    minimum_items: int = 5                    # fewer items in a period never fire the rate alarms
    stuck_executions: int = 1                 # any execution or task that timed out


class Operations(Construct):
    """The dashboard and the alarms; `self.alarms` by name, `self.topic` for the notifications."""

    def __init__(self, scope: Construct, construct_id: str, *, state_machine: sfn.IStateMachine,
                 express_state_machine: sfn.IStateMachine, functions: Mapping[str, lambda_.IFunction], dead_letter_queues: Mapping[str, sqs.IQueue],
                 dead_letter_alarms: Mapping[str, cw.Alarm], bedrock_model_id: str,
                 thresholds: AlarmThresholds = AlarmThresholds(), retain_data: bool = True) -> None:
        super().__init__(scope, construct_id)
        self.thresholds = thresholds
        # Kept with the stack's data by default (retain_data), like every key of the stack; deleted with it otherwise.
        key = kms.Key(self, "AlarmTopicKey", description="Encrypts the media pipeline's alarm notifications",
                      enable_key_rotation=True,
                      removal_policy=RemovalPolicy.RETAIN if retain_data else RemovalPolicy.DESTROY)
        self.topic = sns.Topic(self, "AlarmTopic", display_name="Media pipeline alarms", master_key=key,
                               enforce_ssl=True)
        # CloudWatch publishes to the encrypted topic: it needs the key.
        key.grant_encrypt_decrypt(_cloudwatch_principal())
        self.alarms: dict[str, cw.Alarm] = {}

        period = Duration.minutes(15)
        items = {status.lower(): self.item_metric("ItemsFinished", period, status=status) for status in STATUSES}

        self._alarm("FailureRate", cw.MathExpression(
            expression=f"IF(succeeded + failed >= {thresholds.minimum_items}, 100 * failed / (succeeded + failed), 0)",
            label="failed items, % of finished", period=period, using_metrics=dict(items)),
            threshold=thresholds.failure_rate_percent, evaluation_periods=1,
            description="More than 10 % of the items finished in 15 minutes FAILED (docs/operations.md#failurerate)")
        enrichment_failed = self.item_metric("ItemWarnings", period, warning_code=ENRICHMENT_FAILED)
        self._alarm("EnrichmentFailedRate", cw.MathExpression(
            expression=f"IF(succeeded + failed >= {thresholds.minimum_items}, 100 * warned / (succeeded + failed), 0)",
            label="items with ENRICHMENT_FAILED, % of finished", period=period,
            using_metrics={**items, "warned": enrichment_failed}),
            threshold=thresholds.enrichment_failed_percent, evaluation_periods=3,
            description="Enrichment failed on more than 20 % of the items for 45 minutes: Bedrock access, model id "
                        "or quota (docs/operations.md#enrichmentfailedrate)")
        # The dead-letter queues' alarms belong to their queues' constructs (any message): they notify here too.
        for name, dead_letter_alarm in dead_letter_alarms.items():
            self._notify(dead_letter_alarm)
            self.alarms[name] = dead_letter_alarm
        timed_out = self.item_metric("ItemFailures", Duration.minutes(5), reason_code=TIMEOUT_CODE)
        self._alarm("StuckExecutions", cw.MathExpression(
            expression="FILL(tasks, 0) + FILL(executions, 0) + FILL(express, 0)",
            label="timed-out tasks and executions (Standard, and Express past its 5 minutes)",
            period=Duration.minutes(5),
            using_metrics={"tasks": timed_out, "executions": state_machine.metric_timed_out(
                period=Duration.minutes(5), statistic="Sum"), "express": express_state_machine.metric_timed_out(
                period=Duration.minutes(5), statistic="Sum")}),
            threshold=thresholds.stuck_executions, evaluation_periods=1,
            description="An item waited past its task timeout (a callback that never came) or an execution timed "
                        "out (docs/operations.md#stuckexecutions)")

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        hour = Duration.hours(1)
        self.dashboard.add_widgets(
            cw.TextWidget(markdown="# Media pipeline\nItems, failures, latency, AI-service throttles, dead letters "
                                   "and cost. What to do for each alarm: docs/operations.md.", width=24, height=2))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Items by status", width=8, left=[
                self.item_metric("ItemsFinished", period, status=status).with_(label=status) for status in STATUSES]),
            cw.GraphWidget(title="Items by media type and status", width=8, stacked=True, left=[
                self.search("Items", ("media_type", "status"), period)]),
            cw.GraphWidget(title="Failures by reason code", width=8, stacked=True, left=[
                self.search("ItemFailures", ("reason_code",), period)]),
        )
        # The item's own steps (and ingest): not the callbacks, the capacity release nor the scheduled reconcile.
        background = {steps.triggered_by(t).name for t in (steps.TRANSCRIBE_EVENTS, steps.TEXTRACT_TOPIC,
                                                           steps.EXECUTION_EVENTS, steps.SCHEDULE, steps.BACKFILL_MAP)}
        latency_functions = [name for name in functions if name not in background]
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Step latency p50 (ms)", width=8, left=[
                functions[name].metric_duration(statistic="p50", period=period, label=name)
                for name in latency_functions]),
            cw.GraphWidget(title="Step latency p95 (ms)", width=8, left=[
                functions[name].metric_duration(statistic="p95", period=period, label=name)
                for name in latency_functions]),
            cw.GraphWidget(title="Item time in the state machine p50 / p95 (ms)", width=8, left=[
                state_machine.metric_time(statistic="p50", period=period, label="p50"),
                state_machine.metric_time(statistic="p95", period=period, label="p95"),
                express_state_machine.metric_time(statistic="p50", period=period, label="images (Express) p50"),
                express_state_machine.metric_time(statistic="p95", period=period, label="images (Express) p95")]),
        )
        self.dashboard.add_widgets(
            cw.GraphWidget(title="AI-service throttles", width=8, left=[
                cw.Metric(namespace="AWS/Bedrock", metric_name="InvocationThrottles",
                          dimensions_map={"ModelId": bedrock_model_id}, statistic="Sum", period=period,
                          label="Bedrock"),
                cw.Metric(namespace="AWS/Textract", metric_name="ThrottledCount",
                          dimensions_map={"Operation": "DetectDocumentText"}, statistic="Sum", period=period,
                          label="Textract sync"),
                cw.Metric(namespace="AWS/Textract", metric_name="ThrottledCount",
                          dimensions_map={"Operation": "StartDocumentTextDetection"}, statistic="Sum",
                          period=period, label="Textract async"),
                cw.MathExpression(expression=" + ".join(f"FILL(t{i}, 0)" for i in range(len(functions))),
                                  label="Lambda (pipeline functions)", period=period,
                                  using_metrics={f"t{i}": function.metric_throttles(period=period, statistic="Sum")
                                                 for i, function in enumerate(functions.values())})]),
            cw.GraphWidget(title="Dead-letter queue depth", width=8, left=[
                queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5), statistic="Maximum",
                                                                    label=name)
                for name, queue in dead_letter_queues.items()]),
            cw.GraphWidget(title="Cost per hour (USD, list prices)", width=8, stacked=True, left=[
                self.search("ItemCost", ("media_type",), hour)], right=[
                self.search("OrchestrationCost", ("media_type",), hour)]),
        )
        self.dashboard.add_widgets(cw.AlarmStatusWidget(title="Alarms", width=24, height=3,
                                                        alarms=list(self.alarms.values())))

    @staticmethod
    def item_metric(name: str, period: Duration, **dimensions: str) -> cw.Metric:
        """An item metric (media_pipeline.observability.record_item) with exactly these dimensions."""
        return cw.Metric(namespace=NAMESPACE, metric_name=name, statistic="Sum", period=period,
                         dimensions_map={"service": SERVICE, **dimensions})

    @staticmethod
    def search(name: str, dimensions: tuple[str, ...], period: Duration) -> cw.MathExpression:
        """One line per value of the dimensions (dashboards only: alarms cannot use SEARCH)."""
        schema = ",".join((NAMESPACE, "service", *dimensions))
        return cw.MathExpression(
            expression=f"SEARCH('{{{schema}}} MetricName=\"{name}\"', 'Sum', {int(period.to_seconds())})",
            label="", period=period)

    def _alarm(self, name: str, metric: cw.IMetric, *, threshold: float, evaluation_periods: int,
               description: str) -> cw.Alarm:
        alarm = cw.Alarm(self, name, metric=metric, threshold=threshold, evaluation_periods=evaluation_periods,
                         comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                         treat_missing_data=cw.TreatMissingData.NOT_BREACHING, alarm_description=description)
        self._notify(alarm)
        self.alarms[name] = alarm
        return alarm

    def _notify(self, alarm: cw.Alarm) -> None:
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        alarm.add_ok_action(cw_actions.SnsAction(self.topic))


def _cloudwatch_principal():
    from aws_cdk import aws_iam as iam

    return iam.ServicePrincipal("cloudwatch.amazonaws.com")
