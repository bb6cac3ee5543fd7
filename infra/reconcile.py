"""Every upload ends in a manifest: the `reconcile` function on an EventBridge schedule (media_pipeline/reconcile.py
says what it finds and does; docs/deploy.md, "When something goes wrong")."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct


class Reconcile(Construct):
    """Runs `function` every `schedule_minutes` (none when 0); an invocation EventBridge could not make is retried
    by EventBridge, and a missed run is made good by the next one (reconcile is idempotent)."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.Function,
                 schedule_minutes: int) -> None:
        super().__init__(scope, construct_id)
        self.function = function
        self.rule: events.Rule | None = None
        if schedule_minutes > 0:
            self.rule = events.Rule(
                self, "ScheduleRule",
                description="Uploads with neither a manifest nor a running execution are sent through again",
                schedule=events.Schedule.rate(Duration.minutes(schedule_minutes)),
                targets=[targets.LambdaFunction(function, retry_attempts=2,
                                                max_event_age=Duration.minutes(min(schedule_minutes, 24 * 60)))],
            )
