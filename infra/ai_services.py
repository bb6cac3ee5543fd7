"""The AI services' side of the pipeline: how Transcribe and Textract report back, and who may call
Transcribe, Textract and Bedrock.

- Transcribe: an EventBridge rule on `Transcribe Job State Change` for the pipeline's jobs (`media-...`)
  invokes `transcribe_callback`, which resumes the waiting execution with its task token.
- Textract: asynchronous jobs publish to an encrypted SNS topic through a role Textract assumes;
  `textract_callback` is subscribed to it.
- Bedrock: InvokeModel (the Converse API's permission) on the configured model only.
"""
from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra import nag

TRANSCRIBE_JOB_PREFIX = "media-"
# Cross-region inference profile ids start with a geography: `us.amazon.nova-lite-v1:0`.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


def transcribe_event_pattern() -> events.EventPattern:
    return events.EventPattern(
        source=["aws.transcribe"],
        detail_type=["Transcribe Job State Change"],
        detail={"TranscriptionJobName": [{"prefix": TRANSCRIBE_JOB_PREFIX}]},
    )


def bedrock_model_arns(stack: Stack, model_id: str) -> list[str]:
    """ARNs that InvokeModel needs for a model id: the foundation model, or an inference profile plus
    the foundation model in every region the profile may route to."""
    partition, region, account = stack.partition, stack.region, stack.account
    if model_id.startswith("arn:"):
        return [model_id]
    if model_id.startswith(INFERENCE_PROFILE_PREFIXES):
        base_model = model_id.split(".", 1)[1]
        return [
            f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{model_id}",
            f"arn:{partition}:bedrock:*::foundation-model/{base_model}",
        ]
    return [f"arn:{partition}:bedrock:{region}::foundation-model/{model_id}"]


class AiServices(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        transcribe_callback: lambda_.IFunction,
        textract_callback: lambda_.IFunction,
        bedrock_model_id: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bedrock_model_arns = bedrock_model_arns(Stack.of(self), bedrock_model_id)

        self.transcribe_rule = events.Rule(
            self, "TranscribeJobStateRule",
            description="State changes of the pipeline's Transcribe jobs",
            event_pattern=transcribe_event_pattern(),
            targets=[targets.LambdaFunction(transcribe_callback, retry_attempts=4)],
        )

        # The AWS managed key for SNS: encryption at rest without a key to pay for or to share.
        sns_key = kms.Alias.from_alias_name(self, "SnsManagedKey", "alias/aws/sns")
        self.textract_topic = sns.Topic(
            self, "TextractTopic",
            display_name="Media pipeline Textract job completions",
            master_key=sns_key,
            enforce_ssl=True,
        )
        self.textract_role = iam.Role(
            self, "TextractPublishRole",
            assumed_by=iam.ServicePrincipal(
                "textract.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": Stack.of(self).account}},
            ),
            description="Lets Amazon Textract publish job completions to the pipeline's topic",
        )
        # Publish only: the AWS managed key's own policy lets this account's principals use it through SNS.
        self.textract_role.add_to_policy(iam.PolicyStatement(
            actions=["sns:Publish"], resources=[self.textract_topic.topic_arn]))
        self.textract_topic.add_subscription(subscriptions.LambdaSubscription(textract_callback))

    # One grant per capability: the stack gives each function only what its step calls.
    @staticmethod
    def _acknowledge_no_resource_level(grantee: iam.IGrantable, service: str) -> None:
        if isinstance(grantee, iam.Role | lambda_.Function):
            role = grantee if isinstance(grantee, iam.Role) else grantee.role
            nag.acknowledge(role, "AwsSolutions-IAM5[Resource::*]",
                            f"{service} job APIs support no resource-level permissions (Resource '*' is required); "
                            f"{nag.XRAY_REASON}")

    def grant_start_transcription(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Transcribe")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["transcribe:StartTranscriptionJob", "transcribe:GetTranscriptionJob"],
            resource_arns=["*"],  # Transcribe has no resource-level permissions for jobs
        )

    def grant_read_transcription(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Transcribe")
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["transcribe:GetTranscriptionJob"], resource_arns=["*"])

    def grant_sync_textract(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["textract:DetectDocumentText", "textract:AnalyzeDocument"],
            resource_arns=["*"],  # Textract has no resource-level permissions
        )

    def grant_start_textract(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["textract:StartDocumentTextDetection"],
            resource_arns=["*"],
        )
        self.textract_role.grant_pass_role(grantee)

    def grant_read_textract(self, grantee: iam.IGrantable) -> None:
        self._acknowledge_no_resource_level(grantee, "Textract")
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["textract:GetDocumentTextDetection"], resource_arns=["*"])

    def grant_invoke_model(self, grantee: iam.IGrantable) -> None:
        iam.Grant.add_to_principal(
            grantee=grantee, actions=["bedrock:InvokeModel"], resource_arns=self.bedrock_model_arns)
