"""The media pipeline stack: reading this file is reading the architecture.

Components are built in `infra/*.py`; this module composes them and does all the wiring (environment,
grants, outputs) in one place.
"""
from __future__ import annotations

from aws_cdk import ArnFormat, CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.ai_services import AiServices
from infra import nag
from infra.backfill import Backfill
from infra.functions import FunctionFactory, camel, refuse_deploy_without_packages
from infra.ingest import Ingest, event_pattern
from infra.observability import Observability
from infra.reconcile import Reconcile
from infra.operations import Operations
from infra.settings import PipelineSettings
from infra.storage import JOB_KEY_PREFIX, Storage, token_key_prefix
from infra.video import VideoWorker
from infra.web import Web
from infra.workflow import Workflow
from media_pipeline import jobs, steps


class MediaPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        observability = Observability(self, "Observability", log_retention_days=settings.log_retention_days,
                                      retain_data=settings.retain_data)
        storage = Storage(
            self, "Storage",
            upload_prefix=settings.upload_prefix,
            results_prefix=settings.results_prefix,
            raw_upload_expiration_days=settings.raw_upload_expiration_days,
            noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
            results_expiration_days=settings.results_expiration_days,
            retain_data=settings.retain_data,
        )
        if not settings.bundling:
            refuse_deploy_without_packages(self)

        factory = FunctionFactory(
            self,
            observability=observability,
            bundling=settings.bundling,
            environment={
                "MEDIA_BUCKET": storage.bucket.bucket_name,
                "JOBS_TABLE": storage.table.table_name,
                "EVENT_BUS_NAME": "default",
                "UPLOAD_PREFIX": settings.upload_prefix,
                "RESULTS_PREFIX": settings.results_prefix,
                "MAX_MEDIA_BYTES": str(settings.max_media_bytes),
                "TRANSCRIBE_LANGUAGE": settings.transcribe_language,
                "BEDROCK_MODEL_ID": settings.bedrock_model_id,
                "ENRICHMENT_MAX_INPUT_TOKENS": str(settings.enrichment_max_input_tokens),
                "ENRICHMENT_TOKEN_BUDGET": str(settings.enrichment_token_budget),
            },
        )
        # One function per step of the registry (media_pipeline/steps.py; docs/architecture.md, "Functions").
        fn: dict[str, lambda_.Function] = {
            step.name: factory.create(
                step.name,
                description=step.description,
                timeout=Duration.seconds(step.timeout_seconds),
                memory_size=step.memory_mib,
                ephemeral_storage_mib=step.ephemeral_storage_mib,
            )
            for step in steps.STEPS
        }
        self.functions = fn

        ingest = Ingest(self, "Ingest", bucket=storage.bucket, upload_prefix=settings.upload_prefix,
                        function=fn[steps.triggered_by(steps.UPLOADS).name],
                        max_concurrency=settings.ingest_max_concurrency)
        ai = AiServices(
            self, "AiServices",
            transcribe_callback=fn[steps.triggered_by(steps.TRANSCRIBE_EVENTS).name],
            textract_callback=fn[steps.triggered_by(steps.TEXTRACT_TOPIC).name],
            bedrock_model_id=settings.bedrock_model_id,
            bedrock_profile_model_id=settings.bedrock_profile_model_id,
        )

        worker = VideoWorker(
            self, "VideoWorker",
            cpu=settings.worker_cpu,
            memory_mib=settings.worker_memory_mib,
            networking=settings.worker_networking,
            observability=observability,
            environment={
                "UPLOAD_PREFIX": settings.upload_prefix,
                "RESULTS_PREFIX": settings.results_prefix,
                "MAX_MEDIA_BYTES": str(settings.max_media_bytes),
                "POWERTOOLS_METRICS_NAMESPACE": "MediaPipeline",
            },
        )
        workflow = Workflow(self, "Workflow", functions=fn, worker=worker, observability=observability)
        state_machine = workflow.state_machine
        reconcile = Reconcile(self, "Reconcile", function=fn[steps.triggered_by(steps.SCHEDULE).name],
                              schedule_minutes=settings.reconcile_schedule_minutes)

        # --- settings and grants: what each step of the registry uses and calls -----------------------------
        # (docs/deploy.md, "Permissions", lists them role by role.)
        step_settings = {
            "VIDEO_LAMBDA_MAX_SECONDS": str(settings.video_lambda_max_seconds),
            "TEXTRACT_SNS_TOPIC_ARN": ai.textract_topic.topic_arn,
            "TEXTRACT_ROLE_ARN": ai.textract_role.role_arn,
            "STATE_MACHINE_ARN": state_machine.state_machine_arn,
            "EXPRESS_STATE_MACHINE_ARN": workflow.express_state_machine.state_machine_arn,
            "LANGUAGE_IDENTIFICATION": "enabled" if settings.language_identification else "disabled",
            "PII_REDACTION": "enabled" if settings.pii_redaction else "disabled",
            "KEEP_UNREDACTED": "true" if settings.keep_unredacted else "false",
            "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": ai.transcribe_data_access_role.role_arn,
            "TEXTRACT_MAX_JOBS": str(settings.textract_max_jobs),
            "CAPACITY_LEASE_SECONDS": str(settings.capacity_lease_seconds),
            "INGEST_QUEUE_URL": ingest.queue.queue_url,
            "RECONCILE_GRACE_SECONDS": str(settings.reconcile_grace_minutes * 60),
            "WORKER_CPU": str(settings.worker_cpu),
            "WORKER_MEMORY_MIB": str(settings.worker_memory_mib),
        }
        default_bus = events.EventBus.from_event_bus_name(self, "DefaultEventBus", "default")
        for step in steps.STEPS:
            function = fn[step.name]
            for name in dict.fromkeys(step.settings + (("STATE_MACHINE_ARN", "EXPRESS_STATE_MACHINE_ARN") if step.permissions.start_execution else ())):
                function.add_environment(name, step_settings[name])
            self._grant(step, function, storage=storage, ai=ai, workflow=workflow, ingest=ingest,
                        default_bus=default_bus)
        # Transcribe reads what it transcribes through its data access role when it runs a queued job.
        storage.grant_read_uploads(ai.transcribe_data_access_role, versions=False)
        storage.grant_read_results(ai.transcribe_data_access_role)
        # An execution that ends other than SUCCEEDED gives back the capacity its item held (media_pipeline/admission.py).
        self.execution_ended_rule = events.Rule(
            self, "ExecutionEndedRule",
            description="An execution of the pipeline ended FAILED, TIMED_OUT or ABORTED: release its capacity",
            event_pattern=event_pattern(steps.execution_ended_pattern(state_machine.state_machine_arn)),
            targets=[targets.LambdaFunction(fn[steps.triggered_by(steps.EXECUTION_EVENTS).name],
                                            retry_attempts=185, max_event_age=Duration.hours(24))],
        )
        self.capacity_sweep_rule = events.Rule(
            self, "CapacitySweepRule",
            description="Starts queued Textract jobs on slots whose release was lost (their lease ran out)",
            schedule=events.Schedule.rate(Duration.minutes(steps.CAPACITY_SWEEP_MINUTES)),
            targets=[targets.LambdaFunction(fn[steps.triggered_by(steps.EXECUTION_EVENTS).name], retry_attempts=2)],
        )
        workflow.grant_task_response(worker.task_role, "MediaWorkerTaskResponse", heartbeat=True)
        storage.grant_read_uploads(worker.task_role)
        storage.grant_write_results(worker.task_role, multipart=True)

        # --- backfill: existing objects through the same ingest (docs/operations.md, "Backfill") -------------
        backfill = Backfill(self, "Backfill", function=fn[steps.triggered_by(steps.BACKFILL_MAP).name],
                            bucket=storage.bucket, upload_prefix=settings.upload_prefix,
                            batch_size=settings.backfill_batch_size, max_concurrency=settings.backfill_max_concurrency,
                            tolerated_failure_percentage=settings.backfill_tolerated_failure_percentage,
                            observability=observability)

        # --- the dashboard and the alarms (docs/operations.md) ---------------------------------------------
        operations = Operations(
            self, "Operations", state_machine=state_machine, express_state_machine=workflow.express_state_machine,
            functions=fn, bedrock_model_id=settings.bedrock_model_id,
            retain_data=settings.retain_data,
            dead_letter_queues={"Ingest": ingest.dead_letter_queue,
                                "TranscribeCallback": ai.transcribe_dead_letter_queue,
                                "TextractCallback": ai.textract_dead_letter_queue},
            dead_letter_alarms={"IngestDeadLetter": ingest.dead_letter_alarm,
                                "TranscribeCallbackDeadLetter": ai.transcribe_dead_letter_alarm,
                                "TextractCallbackDeadLetter": ai.textract_dead_letter_alarm})

        # --- the web page and its API (docs/web.md) --------------------------------------------------------------
        api = factory.create("api", description="The web API: presigned uploads, the caller's items",
                             timeout=Duration.seconds(29), memory_size=512,
                             environment={"STATE_MACHINE_ARN": state_machine.state_machine_arn})
        web = Web(self, "Web", function=api, access_log_bucket=storage.access_log_bucket,
                  log_group=observability.log_group(self, "WebApiAccessLogs"), self_sign_up=settings.web_self_sign_up,
                  retain_data=settings.retain_data)
        self._grant_web_api(api, storage=storage, workflow=workflow)
        # The page's browser uploads to (presigned POST) and reads from (captions, links) the media bucket.
        storage.bucket.add_cors_rule(allowed_methods=[s3.HttpMethods.POST, s3.HttpMethods.GET],
                                     allowed_origins=[web.page_origin], allowed_headers=["*"], max_age=3000)
        self.web = web

        # --- outputs: the CLI reads them by stack name ------------------------------------------------
        CfnOutput(self, "MediaBucketName", value=storage.bucket.bucket_name)
        CfnOutput(self, "UploadPrefix", value=settings.upload_prefix)
        CfnOutput(self, "ResultsPrefix", value=settings.results_prefix)
        CfnOutput(self, "JobsTableName", value=storage.table.table_name)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "IngestQueueUrl", value=ingest.queue.queue_url)
        CfnOutput(self, "DeadLetterQueueUrl", value=ingest.dead_letter_queue.queue_url)
        CfnOutput(self, "TranscribeCallbackDeadLetterQueueUrl", value=ai.transcribe_dead_letter_queue.queue_url)
        CfnOutput(self, "TextractCallbackDeadLetterQueueUrl", value=ai.textract_dead_letter_queue.queue_url)
        CfnOutput(self, "ReconcileFunctionName", value=reconcile.function.function_name)
        CfnOutput(self, "BackfillStateMachineArn", value=backfill.state_machine.state_machine_arn)
        for step in (steps.TRANSCRIBE_EVENTS, steps.TEXTRACT_TOPIC):  # `media-pipeline redrive` replays their DLQs
            name = steps.triggered_by(step).name
            CfnOutput(self, f"{camel(name)}FunctionName", value=fn[name].function_name)

        CfnOutput(self, "AlarmTopicArn", value=operations.topic.topic_arn)
        CfnOutput(self, "DashboardName", value=operations.dashboard.dashboard_name)

        self.storage, self.ingest, self.ai_services = storage, ingest, ai
        self.video_worker, self.workflow, self.observability = worker, workflow, observability
        self.reconcile, self.operations, self.backfill = reconcile, operations, backfill
        storage.acknowledge_prefix_grants(self)

    @staticmethod
    def _grant_web_api(function: lambda_.Function, *, storage: Storage, workflow: Workflow) -> None:
        """The API reads and deletes items and presigns uploads and links; a presigned request acts with the
        API's permissions, so uploads need s3:PutObject on the upload prefix (the POST policy narrows each to the
        caller's folder) and links need s3:GetObject(Version)."""
        storage.grant_read_uploads(function)  # the player's link to the upload's version; reprocess's copy source
        storage.grant_read_results(function)  # the manifest, result links
        iam.Grant.add_to_principal(grantee=function, actions=["s3:PutObject", "s3:DeleteObjectVersion"],
                                   resource_arns=[storage.uploads_arn()])  # presigned POST, reprocess, delete
        iam.Grant.add_to_principal(grantee=function, actions=["s3:DeleteObjectVersion"],
                                   resource_arns=[storage.results_arn()])
        function.add_to_role_policy(iam.PolicyStatement(
            actions=["s3:ListBucketVersions"], resources=[storage.bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{storage.results_prefix}*"]}}))
        storage.grant_table_items(function, ["dynamodb:GetItem", "dynamodb:DeleteItem"], key_prefix=JOB_KEY_PREFIX)
        function.add_to_role_policy(iam.PolicyStatement(
            actions=["dynamodb:Query"], resources=[f"{storage.table.table_arn}/index/{jobs.OWNER_INDEX}"]))
        executions = Stack.of(function).format_arn(
            service="states", resource="execution", arn_format=ArnFormat.COLON_RESOURCE_NAME,
            resource_name=f"{workflow.state_machine.state_machine_name}:*")
        function.add_to_role_policy(iam.PolicyStatement(actions=["states:GetExecutionHistory"], resources=[executions]))
        nag.acknowledge(function.role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(function, executions)}]",
                        "The item view reads the current step from the history of the item's execution, named by "
                        "its media id at run time")

    @staticmethod
    def _grant(step: steps.Step, function: lambda_.Function, *, storage: Storage, ai: AiServices,
               workflow: Workflow, ingest: Ingest, default_bus: events.IEventBus) -> None:
        """A step's Permissions as grants, each on the narrowest resource. Uploads are read by version id (the
        event's) except by Transcribe, which reads the s3:// URI for start_transcription; results are read by
        key; Transcribe and Textract read their input, and Transcribe writes its output, with the caller's
        permissions."""
        allowed = step.permissions
        if allowed.read_uploads:
            storage.grant_read_uploads(function, versions=allowed.read_uploads == "versions")
        if allowed.read_results:
            storage.grant_read_results(function)
        if allowed.write_results:
            storage.grant_write_results(function, multipart=allowed.write_results == "multipart")
        if allowed.job_records:
            storage.grant_table_items(function, list(allowed.job_records), key_prefix=JOB_KEY_PREFIX)
        if allowed.task_tokens:
            kind, actions = allowed.task_tokens
            storage.grant_table_items(function, list(actions), key_prefix=token_key_prefix(kind))
        grants = {("transcribe", "start"): ai.grant_start_transcription, ("transcribe", "read"): ai.grant_read_transcription,
                  ("textract", "sync"): ai.grant_sync_textract, ("textract", "start"): ai.grant_start_textract,
                  ("textract", "read"): ai.grant_read_textract,
                  ("comprehend", "detect_language"): lambda fn: ai.grant_comprehend(fn, "DetectDominantLanguage"),
                  ("comprehend", "detect_pii"): lambda fn: ai.grant_comprehend(fn, "DetectPiiEntities")}
        for service, uses in (("transcribe", allowed.transcribe), ("textract", allowed.textract),
                              ("comprehend", allowed.comprehend)):
            for use in uses:
                grants[(service, use)](function)
        if allowed.invoke_model:
            ai.grant_invoke_model(function)
        if allowed.start_execution:
            workflow.grant_start_executions(function)
        if allowed.put_events:
            default_bus.grant_put_events_to(function)
        for service in allowed.capacity:  # admission control's slots and queue (Query finds the oldest waiting)
            storage.grant_table_items(function, ["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                                                 "dynamodb:Query"], key_prefix=f"{steps.CAPACITY_KEY_PREFIX}{service}")
        if allowed.list_uploads:
            storage.grant_list_uploads(function)
        if allowed.describe_executions:
            workflow.grant_describe_executions(function)
        if allowed.send_to_ingest:
            ingest.grant_send_uploads(function)
        if allowed.read_execution_history:
            workflow.grant_read_execution_history(function.role, f"{camel(step.name)}ExecutionHistory")
        if allowed.resume_execution:  # the callbacks, and the start steps when a retry finds its job finished
            workflow.grant_task_response(function.role, f"{camel(step.name)}TaskResponse")
