"""The AI services' side of the pipeline: how Transcribe and Textract report back, and who may call
Transcribe, Textract, Comprehend and Bedrock.

- Transcribe: an EventBridge rule on `Transcribe Job State Change` for the pipeline's jobs (`media-...`)
  invokes `transcribe_callback`, which resumes the waiting execution with its task token.
- Textract: asynchronous jobs publish to an encrypted SNS topic through a role Textract assumes;
  `textract_callback` is subscribed to it.
- Bedrock: InvokeModel (the Converse API's permission) on the configured model only.
- Comprehend: DetectDominantLanguage and DetectPiiEntities, which have no resource-level permissions (Resource "*").
  Transcribe's content redaction (ContentRedaction in StartTranscriptionJob) needs no permission of its own.

Neither callback may be lost silently: the EventBridge target and the SNS subscription each send what they
could not deliver, and the callback function sends the invocations that failed after Lambda's retries, to
an encrypted dead-letter queue with an alarm on its depth (docs/deploy.md, "When something goes wrong").
"""
from __future__ import annotations

import jsii
from aws_cdk import Duration, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from infra.ingest import event_pattern
from media_pipeline import steps

TRANSCRIBE_JOB_PREFIX = steps.TRANSCRIBE_JOB_PREFIX
# Cross-region inference profile ids start with a geography: `us.amazon.nova-lite-v1:0`.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")
# A waiting execution gives up after the callback states' TimeoutSeconds (6 hours, in the ASL): an event older
# than that resumes nobody, so EventBridge and Lambda stop retrying it then.
CALLBACK_MAX_EVENT_AGE = Duration.hours(6)
CALLBACK_DLQ_RETENTION = Duration.days(14)


def transcribe_event_pattern() -> events.EventPattern:
    return event_pattern(steps.TRANSCRIBE_EVENT_PATTERN)


def transcription_job_arn(stack: Stack) -> str:
    """The pipeline's Transcribe jobs: `transcription-job/media-*` (job names are `media-<media id>-<part>`)."""
    return (f"arn:{stack.partition}:transcribe:{stack.region}:{stack.account}:"
            f"transcription-job/{TRANSCRIBE_JOB_PREFIX}*")


def _without_geography(model_id: str) -> str:
    """`us.amazon.nova-lite-v1:0` -> `amazon.nova-lite-v1:0`; a model id without a geography is kept."""
    return model_id.split(".", 1)[1] if model_id.startswith(INFERENCE_PROFILE_PREFIXES) else model_id


def bedrock_model_arns(stack: Stack, model_id: str, profile_model_id: str = "") -> list[str]:
    """ARNs that InvokeModel (Converse) needs for `bedrock_model_id`.

    - a model id (`amazon.nova-lite-v1:0`) or a foundation-model ARN: that model in this region;
    - a cross-region (system-defined) inference profile, as an id (`us.amazon.nova-lite-v1:0`) or an ARN
      (`arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0`): the profile plus
      the foundation model it routes to, in every region (`bedrock:*::foundation-model/<model>`), since the
      profile chooses the destination region per request;
    - an application inference profile ARN (`.../application-inference-profile/<id>`): the profile plus the
      model named by `profile_model_id` (context key `bedrock_profile_model_id`), which the ARN does not
      reveal and synthesis cannot look up. A plain model id means the profile copies that model in this
      region; a geography-prefixed id means it copies a cross-region profile, so every region. Without it,
      synthesis fails rather than grant every foundation model.
    """
    partition, region, account = stack.partition, stack.region, stack.account

    def foundation_model(model: str, any_region: bool) -> str:
        return f"arn:{partition}:bedrock:{'*' if any_region else region}::foundation-model/{_without_geography(model)}"

    if model_id.startswith("arn:"):
        resource = model_id.split(":", 5)[5] if model_id.count(":") >= 5 else ""
        kind, _, name = resource.partition("/")
        if kind == "inference-profile" and name:
            return [model_id, foundation_model(name, any_region=True)]
        if kind == "application-inference-profile":
            if not profile_model_id:
                raise ValueError(
                    "bedrock_model_id is an application inference profile: set bedrock_profile_model_id to the "
                    "model it routes to (for example amazon.nova-lite-v1:0, or us.amazon.nova-lite-v1:0 for a "
                    "profile copied from a cross-region profile) so that IAM can allow that model only")
            return [model_id, foundation_model(profile_model_id,
                                               any_region=profile_model_id.startswith(INFERENCE_PROFILE_PREFIXES))]
        return [model_id]  # a foundation-model ARN, or a provisioned or custom model invoked by its own ARN
    if model_id.startswith(INFERENCE_PROFILE_PREFIXES):
        return [
            f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
            foundation_model(model_id, any_region=True),
        ]
    return [foundation_model(model_id, any_region=False)]


@jsii.implements(lambda_.IDestination)
class _DeadLetterDestination:
    """An SQS on-failure destination that grants the function `sqs:SendMessage` only (CDK's SqsDestination
    also grants GetQueueAttributes and GetQueueUrl, which Lambda does not call)."""

    def __init__(self, queue: sqs.IQueue) -> None:
        self.queue = queue

    def bind(self, scope: Construct, fn: lambda_.IFunction,  # noqa: ARG002 (jsii signature)
             options: lambda_.DestinationOptions | None = None) -> lambda_.DestinationConfig:  # noqa: ARG002
        fn.add_to_role_policy(iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn]))
        return lambda_.DestinationConfig(destination=self.queue.queue_arn)


class AiServices(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        transcribe_callback: lambda_.Function,
        textract_callback: lambda_.Function,
        bedrock_model_id: str,
        bedrock_profile_model_id: str = "",
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.bedrock_model_arns = bedrock_model_arns(stack, bedrock_model_id, bedrock_profile_model_id)
        self.transcription_job_arn = transcription_job_arn(stack)

        # Transcribe job state changes -> transcribe_callback. EventBridge retries a failed delivery, Lambda
        # retries a failed invocation; what is still undelivered then waits in the dead-letter queue.
        self.transcribe_dead_letter_queue = self._dead_letter_queue("TranscribeCallbackDeadLetterQueue")
        self.transcribe_rule = events.Rule(
            self, "TranscribeJobStateRule",
            description="State changes of the pipeline's Transcribe jobs",
            event_pattern=transcribe_event_pattern(),
            targets=[targets.LambdaFunction(
                transcribe_callback,
                retry_attempts=4,
                max_event_age=CALLBACK_MAX_EVENT_AGE,
                dead_letter_queue=self.transcribe_dead_letter_queue,
            )],
        )
        self._send_failed_invocations(transcribe_callback, self.transcribe_dead_letter_queue)
        self.transcribe_dead_letter_alarm = self._dead_letter_alarm(
            "TranscribeCallbackDeadLetterAlarm", self.transcribe_dead_letter_queue,
            "Transcribe job state changes that did not resume their execution are waiting in the dead-letter queue")

        # The AWS managed key for SNS: encryption at rest without a key to pay for or to share.
        sns_key = kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns")
        self.textract_topic = sns.Topic(
            self, "TextractTopic",
            display_name="Media pipeline Textract job completions",
            master_key=sns_key,
            enforce_ssl=True,
        )
        # Transcribe queues jobs past the account's concurrency quota only with a data access role
        # (JobExecutionSettings.AllowDeferredExecution): a burst delays items instead of failing them. The stack grants
        # it read access to what is transcribed.
        self.transcribe_data_access_role = iam.Role(
            self, "TranscribeDataAccessRole",
            assumed_by=iam.ServicePrincipal(
                "transcribe.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets Amazon Transcribe read the media of queued (deferred) transcription jobs",
        )
        self.textract_role = iam.Role(
            self, "TextractPublishRole",
            assumed_by=iam.ServicePrincipal(
                "textract.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
            description="Lets Amazon Textract publish job completions to the pipeline's topic",
        )
        # Publish only: the AWS managed key's own policy lets this account's principals use it through SNS.
        self.textract_role.add_to_policy(iam.PolicyStatement(
            actions=["sns:Publish"], resources=[self.textract_topic.topic_arn]))
        # Textract notifications -> textract_callback; the subscription's redrive policy keeps what SNS could
        # not deliver (CDK's queue policy lets this topic, and only it, send to the queue).
        self.textract_dead_letter_queue = self._dead_letter_queue("TextractCallbackDeadLetterQueue")
        self.textract_topic.add_subscription(subscriptions.LambdaSubscription(
            textract_callback, dead_letter_queue=self.textract_dead_letter_queue))
        self._send_failed_invocations(textract_callback, self.textract_dead_letter_queue)
        self.textract_dead_letter_alarm = self._dead_letter_alarm(
            "TextractCallbackDeadLetterAlarm", self.textract_dead_letter_queue,
            "Textract job notifications that did not resume their execution are waiting in the dead-letter queue")

    def _dead_letter_queue(self, construct_id: str) -> sqs.Queue:
        queue = sqs.Queue(
            self, construct_id,
            encryption=sqs.QueueEncryption.SQS_MANAGED,  # needs no KMS grant for EventBridge, SNS or Lambda
            enforce_ssl=True,
            retention_period=CALLBACK_DLQ_RETENTION,
        )
        # cdk-nag recognises a DLQ only by another queue's RedrivePolicy, not by an EventBridge target's,
        # an SNS subscription's or a Lambda destination's.
        nag.acknowledge(queue, "AwsSolutions-SQS3",
                        "This queue is itself a dead-letter queue: of an EventBridge target or an SNS subscription, "
                        "and the on-failure destination of the callback function's asynchronous invocations")
        return queue

    @staticmethod
    def _send_failed_invocations(function: lambda_.Function, queue: sqs.IQueue) -> None:
        """Lambda's own retries of an asynchronous invocation (EventBridge and SNS invoke asynchronously);
        an invocation that still fails goes to the queue instead of being dropped."""
        function.configure_async_invoke(
            retry_attempts=2,
            max_event_age=CALLBACK_MAX_EVENT_AGE,
            on_failure=_DeadLetterDestination(queue),
        )

    def _dead_letter_alarm(self, construct_id: str, queue: sqs.Queue, description: str) -> cloudwatch.Alarm:
        return cloudwatch.Alarm(
            self, construct_id,
            alarm_description=description,
            metric=queue.metric_approximate_number_of_messages_visible(period=Duration.minutes(5)),
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    # One grant per capability: the stack gives each function only what its step calls.
    @staticmethod
    def _acknowledge_no_resource_level(grantee: iam.IGrantable, service: str) -> None:
        if isinstance(grantee, iam.Role | lambda_.Function):
            role = grantee if isinstance(grantee, iam.Role) else grantee.role
            nag.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                            f"{service} APIs support no resource-level permissions (Resource '*' is required); "
                            f"{nag.XRAY_REASON}")

    def _acknowledge_transcription_jobs(self, grantee: iam.IGrantable) -> None:
        role = grantee if isinstance(grantee, iam.Role) else getattr(grantee, "role", None)
        if role is not None:
            nag.acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, self.transcription_job_arn)}]",
                            f"Transcribe jobs are named {TRANSCRIBE_JOB_PREFIX}<media id>-<part> at run time; the "
                            f"grant is limited to this account's and region's jobs with the pipeline's prefix")

    def grant_start_transcription(self, grantee: iam.IGrantable) -> None:
        """StartTranscriptionJob, and GetTranscriptionJob for a retried start that finds its job existing; the data
        access role handed to Transcribe (PassRole to Transcribe only) so that it queues jobs past its quota."""
        self._acknowledge_transcription_jobs(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["transcribe:GetTranscriptionJob", "transcribe:StartTranscriptionJob"],
            resource_arns=[self.transcription_job_arn],
        )
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[self.transcribe_data_access_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "transcribe.amazonaws.com"}},
        ))

    def grant_read_transcription(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_transcription_jobs(grantee)
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["transcribe:GetTranscriptionJob"], resource_arns=[self.transcription_job_arn])

    def grant_sync_textract(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["textract:DetectDocumentText"],
            resource_arns=["*"],  # Textract has no resource-level permissions
        )

    def grant_start_textract(self, grantee: iam.IGrantable) -> None:
        """StartDocumentTextDetection with the notification role (PassRole to Textract only), and
        GetDocumentTextDetection for the job's status (a retried start may get back a finished job)."""
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["textract:GetDocumentTextDetection", "textract:StartDocumentTextDetection"],
            resource_arns=["*"],
        )
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[self.textract_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "textract.amazonaws.com"}},
        ))

    def grant_read_textract(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["textract:GetDocumentTextDetection"], resource_arns=["*"])

    def grant_comprehend(self, grantee: iam.IGrantable, action: str) -> None:
        """A synchronous Comprehend call on text the request carries (DetectDominantLanguage, DetectPiiEntities):
        the Service Authorization Reference lists no resource type for them."""
        self._acknowledge_no_resource_level(grantee, "Comprehend")
        iam.Grant.add_to_principal(grantee=grantee, actions=[f"comprehend:{action}"], resource_arns=["*"])

    def grant_invoke_model(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:InvokeModel"], resource_arns=self.bedrock_model_arns)
        role = grantee if isinstance(grantee, iam.Role) else getattr(grantee, "role", None)
        for arn in self.bedrock_model_arns:
            if role is not None and ":bedrock:*::foundation-model/" in arn:
                nag.acknowledge(
                    role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, arn)}]",
                    "A cross-region inference profile sends each request to the foundation model in one of its "
                    "destination regions, chosen per request; the region wildcard is for that one model only, "
                    "and the profile itself is granted by its full ARN")
