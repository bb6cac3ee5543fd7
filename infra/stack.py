"""The media pipeline stack: reading this file is reading the architecture.

Components are built in `infra/*.py`; this module composes them and does all the wiring (environment,
grants, outputs) in one place.
"""
from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.ai_services import AiServices
from infra.functions import FunctionFactory, camel
from infra.ingest import Ingest
from infra.observability import Observability
from infra.settings import PipelineSettings
from infra.storage import JOB_KEY_PREFIX, Storage, token_key_prefix
from infra.video import VideoWorker
from infra.workflow import Workflow


@dataclass(frozen=True)
class FunctionSpec:
    description: str
    timeout_seconds: int
    memory_mib: int
    ephemeral_storage_mib: int | None = None


# One line per step (docs/architecture.md, "Functions"); the folder name is the id stem.
FUNCTION_SPECS: dict[str, FunctionSpec] = {
    "ingest": FunctionSpec("Sniffs an upload, records the job, starts its execution", 60, 512),
    "start_transcription": FunctionSpec("Starts a Transcribe job and stores its task token", 30, 256),
    "transcribe_callback": FunctionSpec("Resumes an execution when its Transcribe job ends", 30, 256),
    "process_transcript": FunctionSpec("Transcribe JSON to text, segments, WebVTT and SRT", 300, 1024),
    "enrich": FunctionSpec("Title, summary and keywords with Bedrock Converse", 600, 1024),
    "finalize": FunctionSpec("Writes the manifest, the job status and the Media Processed event", 120, 512),
    "analyze_document": FunctionSpec("Document limits, PDF text layer, synchronous Textract", 300, 2048, 2048),
    "start_document_analysis": FunctionSpec("Starts asynchronous Textract and stores its task token", 30, 256),
    "textract_callback": FunctionSpec("Resumes an execution when its Textract job ends", 30, 256),
    "collect_document_text": FunctionSpec("Textract pages to text and blocks", 300, 1024),
    "probe_media": FunctionSpec("Probes a video and picks Lambda or Fargate", 120, 1024),
    "extract_media": FunctionSpec("Audio parts, thumbnails and poster of a short video", 900, 3008, 10240),
}


class MediaPipelineStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, settings: PipelineSettings, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = settings

        observability = Observability(self, "Observability", log_retention_days=settings.log_retention_days)
        storage = Storage(
            self, "Storage",
            upload_prefix=settings.upload_prefix,
            results_prefix=settings.results_prefix,
            raw_upload_expiration_days=settings.raw_upload_expiration_days,
            noncurrent_version_expiration_days=settings.noncurrent_version_expiration_days,
        )

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
        fn: dict[str, lambda_.Function] = {
            name: factory.create(
                name,
                description=spec.description,
                timeout=Duration.seconds(spec.timeout_seconds),
                memory_size=spec.memory_mib,
                ephemeral_storage_mib=spec.ephemeral_storage_mib,
            )
            for name, spec in FUNCTION_SPECS.items()
        }
        fn["probe_media"].add_environment("VIDEO_LAMBDA_MAX_SECONDS", str(settings.video_lambda_max_seconds))
        self.functions = fn

        ingest = Ingest(self, "Ingest", bucket=storage.bucket, upload_prefix=settings.upload_prefix,
                        function=fn["ingest"])
        ai = AiServices(
            self, "AiServices",
            transcribe_callback=fn["transcribe_callback"],
            textract_callback=fn["textract_callback"],
            bedrock_model_id=settings.bedrock_model_id,
            bedrock_profile_model_id=settings.bedrock_profile_model_id,
        )
        fn["start_document_analysis"].add_environment("TEXTRACT_SNS_TOPIC_ARN", ai.textract_topic.topic_arn)
        fn["start_document_analysis"].add_environment("TEXTRACT_ROLE_ARN", ai.textract_role.role_arn)

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

        # --- grants: what each step calls (docs/deploy.md, "Permissions", lists them role by role) ---------
        # Uploads are read by version id (the event's version) except by Transcribe, which reads the s3:// URI
        # for start_transcription; results are read by key. Transcribe writes its output, and Transcribe and
        # Textract read their input, with the caller's permissions.
        reads_uploads = ("ingest", "analyze_document", "probe_media", "extract_media")
        reads_results = ("start_transcription", "process_transcript", "enrich", "finalize",
                         "start_document_analysis", "collect_document_text")
        writes_results = ("ingest", "start_transcription", "process_transcript", "enrich", "finalize")
        # Writers of large results (boto3's multipart transfers, streamed blocks) abort unfinished uploads.
        writes_results_multipart = ("analyze_document", "collect_document_text", "extract_media")
        for name in reads_uploads:
            storage.grant_read_uploads(fn[name])
        storage.grant_read_uploads(fn["start_transcription"], versions=False)  # Transcribe reads audio uploads
        for name in reads_results:
            storage.grant_read_results(fn[name])
        for name in writes_results:
            storage.grant_write_results(fn[name])
        for name in writes_results_multipart:
            storage.grant_write_results(fn[name], multipart=True)

        # The jobs table, item by item: job records (MEDIA#...) and each kind's task tokens (TOKEN#<kind>#...).
        job_records, transcribe_tokens, textract_tokens = (
            JOB_KEY_PREFIX, token_key_prefix("transcribe"), token_key_prefix("textract"))
        table_items: dict[str, tuple[str, list[str]]] = {
            "ingest": (job_records, ["dynamodb:PutItem", "dynamodb:UpdateItem"]),  # create; finish a rejected one
            "finalize": (job_records, ["dynamodb:UpdateItem"]),
            "start_transcription": (transcribe_tokens, ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]),
            "transcribe_callback": (transcribe_tokens, ["dynamodb:GetItem", "dynamodb:DeleteItem"]),
            "start_document_analysis": (textract_tokens, ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem"]),
            "textract_callback": (textract_tokens, ["dynamodb:GetItem", "dynamodb:DeleteItem"]),
        }
        for name, (key_prefix, actions) in table_items.items():
            storage.grant_table_items(fn[name], actions, key_prefix=key_prefix)

        ai.grant_start_transcription(fn["start_transcription"])
        ai.grant_read_transcription(fn["transcribe_callback"])
        ai.grant_sync_textract(fn["analyze_document"])
        ai.grant_start_textract(fn["start_document_analysis"])
        ai.grant_read_textract(fn["textract_callback"])
        ai.grant_read_textract(fn["collect_document_text"])
        ai.grant_invoke_model(fn["enrich"])

        fn["ingest"].add_environment("STATE_MACHINE_ARN", state_machine.state_machine_arn)
        state_machine.grant_start_execution(fn["ingest"])
        default_bus = events.EventBus.from_event_bus_name(self, "DefaultEventBus", "default")
        for name in ("ingest", "finalize"):  # ingest finishes rejected uploads itself
            default_bus.grant_put_events_to(fn[name])

        # Resuming a waiting execution: the callbacks, and the start steps when a retry finds its job finished.
        for name in ("start_transcription", "transcribe_callback", "start_document_analysis", "textract_callback"):
            workflow.grant_task_response(fn[name].role, f"{camel(name)}TaskResponse")
        workflow.grant_task_response(worker.task_role, "MediaWorkerTaskResponse", heartbeat=True)
        storage.grant_read_uploads(worker.task_role)
        storage.grant_write_results(worker.task_role, multipart=True)

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

        self.storage, self.ingest, self.ai_services = storage, ingest, ai
        self.video_worker, self.workflow, self.observability = worker, workflow, observability
        storage.acknowledge_prefix_grants(self)
