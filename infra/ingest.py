"""Uploads in: S3 `Object Created` events -> EventBridge rule -> SQS queue (with a DLQ) -> ingest Lambda."""
from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from media_pipeline import steps

MAX_RECEIVE_COUNT = 5
# AWS's guidance for SQS event sources: visibility timeout of at least 6x the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6


def upload_event_pattern(*, bucket_name: str, upload_prefix: str) -> events.EventPattern:
    return event_pattern(steps.upload_event_pattern(bucket_name, upload_prefix))


def event_pattern(pattern: dict) -> events.EventPattern:
    """A pattern written as data in media_pipeline/steps.py, as CDK's EventPattern."""
    return events.EventPattern(source=pattern["source"], detail_type=pattern["detail-type"], detail=pattern["detail"])


class Ingest(Construct):
    """Buffers upload events so a burst of uploads or a failing ingest loses nothing (DLQ after 5 tries)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket,
        upload_prefix: str,
        function: lambda_.Function,
        batch_size: int = 10,
        max_concurrency: int = 10,
    ) -> None:
        super().__init__(scope, construct_id)
        if function.timeout is None:
            raise ValueError("the ingest function needs an explicit timeout")
        self.dead_letter_queue = sqs.Queue(
            self, "DeadLetterQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self, "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(function.timeout.to_seconds() * VISIBILITY_TIMEOUT_FACTOR),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=MAX_RECEIVE_COUNT),
        )
        self.rule = events.Rule(
            self, "UploadRule",
            description="Media uploaded under the upload prefix",
            event_pattern=upload_event_pattern(bucket_name=bucket.bucket_name, upload_prefix=upload_prefix),
            targets=[targets.SqsQueue(self.queue)],
        )
        # An upload whose event could not be ingested after MAX_RECEIVE_COUNT tries waits here for 14 days:
        # this alarm makes it visible (redrive it to the queue once the cause is fixed).
        self.dead_letter_alarm = cloudwatch.Alarm(
            self, "DeadLetterAlarm",
            alarm_description="Upload events that ingest could not process are waiting in the dead-letter queue",
            metric=self.dead_letter_queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.function = function
        function.add_event_source(sources.SqsEventSource(
            self.queue,
            batch_size=batch_size,
            max_batching_window=Duration.seconds(1),
            report_batch_item_failures=True,
            # A burst of uploads is taken at this pace; the rest waits in the queue, never in a retry loop.
            max_concurrency=max_concurrency,
        ))

    def grant_send_uploads(self, grantee: iam.IGrantable) -> None:
        """SendMessage only (not CDK's grant_send_messages, which adds GetQueueAttributes and GetQueueUrl): reconcile
        puts an upload's event on the queue again."""
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]))
