"""The pipeline's steps, as data: the one list the CDK app, the local runtime and the tests derive from.

Each entry is a folder under `functions/` (its `handler.py`), how it runs (timeout, memory), how it is reached
(a state of the ASL through its `${...FunctionArn}` substitution, or an event: uploads, Transcribe's job state
changes, Textract's SNS topic) and what it may call (`Permissions`, which `infra/stack.py` turns into grants).
The EventBridge patterns live here too, once. Pure data: nothing here imports AWS libraries.

`problems()` tells, in one message, where the function folders, this registry and the ASL disagree.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRANSCRIBE_JOB_PREFIX = "media-"  # media_pipeline.ids.transcribe_job_name
TOKEN_KINDS = ("transcribe", "textract")  # task tokens parked in the jobs table, one key prefix per kind


# How a step is reached when the state machine does not invoke it.
UPLOADS = "uploads"                    # S3 "Object Created" under the upload prefix → SQS → the function
TRANSCRIBE_EVENTS = "transcribe-events"  # EventBridge: Transcribe Job State Change of the pipeline's jobs
TEXTRACT_TOPIC = "textract-topic"      # SNS: Textract's completion notifications
EXECUTION_EVENTS = "execution-events"  # EventBridge: an execution of the pipeline ended other than SUCCEEDED
CAPACITY_KEY_PREFIX = "CAPACITY#"      # media_pipeline/admission.py: slots and waiting items, per service
SCHEDULE = "schedule"                  # an EventBridge schedule (reconcile_schedule_minutes)
BACKFILL_MAP = "backfill-map"          # the backfill state machine's Distributed Map (statemachines/backfill.asl.json)


@dataclass(frozen=True)
class Permissions:
    """What a step's code calls, in the product's words; infra/stack.py maps each to its narrowest grant."""

    read_uploads: str | None = None     # "versions": by the event's version id; "latest": by key (Transcribe)
    read_results: bool = False
    write_results: str | None = None    # "objects", or "multipart" (also aborts unfinished multipart uploads)
    job_records: tuple[str, ...] = ()   # jobs table actions on job records (MEDIA#...)
    task_tokens: tuple[str, tuple[str, ...]] | None = None  # (kind, actions) on TOKEN#<kind>#... items
    transcribe: tuple[str, ...] = ()    # "start" (and read its job back), "read"
    textract: tuple[str, ...] = ()      # "sync", "start" (and read its job back), "read"
    comprehend: tuple[str, ...] = ()    # "detect_language" (DetectDominantLanguage), "detect_pii" (DetectPiiEntities)
    invoke_model: bool = False
    start_execution: bool = False        # StartExecution on the Standard and the Express state machine
    put_events: bool = False
    resume_execution: bool = False      # SendTaskSuccess/Failure on the state machine
    capacity: tuple[str, ...] = ()      # admission control: slots and queue of a service (CAPACITY#<service>)
    list_uploads: bool = False          # ListObjectVersions under the upload prefix
    describe_executions: bool = False   # DescribeExecution on the state machine's executions
    send_to_ingest: bool = False        # SendMessage to the ingest queue (an upload's event, again)
    read_execution_history: bool = False  # GetExecutionHistory of the state machine's executions (cost)


@dataclass(frozen=True)
class Step:
    name: str  # the folder under functions/
    description: str
    timeout_seconds: int
    memory_mib: int
    permissions: Permissions
    ephemeral_storage_mib: int | None = None
    trigger: str | None = None  # None: a state of the ASL invokes it through `substitution`
    settings: tuple[str, ...] = field(default=())  # extra environment variables, from the app's settings

    @property
    def substitution(self) -> str | None:
        """`${NameFunctionArn}` in the ASL for a step the state machine invokes."""
        return None if self.trigger else "".join(p.capitalize() for p in self.name.split("_")) + "FunctionArn"


_TOKEN_ACTIONS = ("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:DeleteItem")
_CALLBACK_TOKEN_ACTIONS = ("dynamodb:GetItem", "dynamodb:DeleteItem")
_TEXTRACT_DISPATCH = ("TEXTRACT_SNS_TOPIC_ARN", "TEXTRACT_ROLE_ARN", "TEXTRACT_MAX_JOBS", "CAPACITY_LEASE_SECONDS")

STEPS: tuple[Step, ...] = (
    Step("ingest", "Sniffs an upload, records the job, starts its execution", 60, 512, trigger=UPLOADS,
         permissions=Permissions(read_uploads="versions", write_results="objects",  # rejected uploads' manifests
                                 # GetItem: whether a duplicate delivery's Express execution was started
                                 job_records=("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem"),
                                 start_execution=True, put_events=True)),
    Step("start_transcription", "Starts a Transcribe job and stores its task token", 120, 256,
         settings=("PII_REDACTION", "KEEP_UNREDACTED",  # Transcribe's content redaction
                   "TRANSCRIBE_DATA_ACCESS_ROLE_ARN"),  # Transcribe queues jobs past its quota (deferred execution)
         permissions=Permissions(read_uploads="latest", read_results=True, write_results="objects",
                                 task_tokens=("transcribe", _TOKEN_ACTIONS), transcribe=("start",),
                                 resume_execution=True)),
    Step("transcribe_callback", "Resumes an execution when its Transcribe job ends", 120, 256,
         trigger=TRANSCRIBE_EVENTS,
         permissions=Permissions(task_tokens=("transcribe", _CALLBACK_TOKEN_ACTIONS), transcribe=("read",),
                                 resume_execution=True)),
    Step("process_transcript", "Transcribe JSON to text, segments, WebVTT and SRT", 300, 1024,
         permissions=Permissions(read_results=True, write_results="objects")),
    Step("identify_language", "The item's language: Comprehend on its text, or what Transcribe identified", 60, 512,
         settings=("LANGUAGE_IDENTIFICATION",),
         permissions=Permissions(read_results=True, comprehend=("detect_language",))),
    Step("redact_pii", "Redacts PII: Comprehend on a document's text, Transcribe's redaction counted for audio", 300,
         1024, settings=("PII_REDACTION", "KEEP_UNREDACTED"),
         permissions=Permissions(read_results=True, write_results="objects", comprehend=("detect_pii",))),
    Step("enrich", "Title, summary and keywords with Bedrock Converse", 600, 1024,
         permissions=Permissions(read_results=True, write_results="objects", invoke_model=True)),
    Step("finalize", "Writes the manifest (with the item's cost), the job status and the Media Processed event", 120,
         512, settings=("WORKER_CPU", "WORKER_MEMORY_MIB"),
         permissions=Permissions(read_results=True, write_results="objects",
                                 job_records=("dynamodb:GetItem", "dynamodb:UpdateItem"), put_events=True,
                                 read_execution_history=True)),
    Step("analyze_document", "Document limits, PDF text layer, synchronous Textract", 300, 2048,
         ephemeral_storage_mib=2048,
         permissions=Permissions(read_uploads="versions", write_results="multipart", textract=("sync",))),
    # The steps that start or resume paid jobs get 120 s: one call may take botocore's retries' whole backoff
    # (about 50 s at worst) under throttling; the two start states also retry a timeout (the ASL).
    Step("start_document_analysis", "Queues the item for asynchronous Textract, starts jobs for free slots", 120, 256,
         settings=_TEXTRACT_DISPATCH,
         permissions=Permissions(read_results=True, task_tokens=("textract", _TOKEN_ACTIONS),
                                 textract=("start",), resume_execution=True, capacity=("textract",))),
    Step("textract_callback", "Resumes an execution when its Textract job ends; its slot goes to the next", 120, 256,
         trigger=TEXTRACT_TOPIC, settings=_TEXTRACT_DISPATCH,  # reads: Textract reads a dispatched job's input as the caller
         permissions=Permissions(read_results=True, task_tokens=("textract", _CALLBACK_TOKEN_ACTIONS), textract=("start",),
                                 resume_execution=True, capacity=("textract",))),
    Step("release_capacity", "Gives back the Textract slot or queue place of an execution that ended", 120, 256,
         trigger=EXECUTION_EVENTS, settings=_TEXTRACT_DISPATCH,
         permissions=Permissions(read_results=True, task_tokens=("textract", _CALLBACK_TOKEN_ACTIONS), textract=("start",),
                                 resume_execution=True, capacity=("textract",))),
    Step("collect_document_text", "Textract pages to text and blocks", 300, 1024,
         permissions=Permissions(read_results=True, write_results="multipart", textract=("read",))),
    Step("probe_media", "Probes a video or audio file and picks Lambda, Fargate or one Transcribe job", 120, 1024,
         settings=("VIDEO_LAMBDA_MAX_SECONDS",),
         permissions=Permissions(read_uploads="versions")),
    Step("extract_media", "Audio parts, thumbnails and poster of a short video", 900, 3008, ephemeral_storage_mib=10240,
         permissions=Permissions(read_uploads="versions", write_results="multipart")),
    Step("reconcile", "Finds uploads with neither a manifest nor a running execution, and finishes them", 900, 512,
         trigger=SCHEDULE, settings=("STATE_MACHINE_ARN", "INGEST_QUEUE_URL", "RECONCILE_GRACE_SECONDS"),
         permissions=Permissions(list_uploads=True, job_records=("dynamodb:GetItem", "dynamodb:UpdateItem"),
                                 describe_executions=True, send_to_ingest=True,
                                 write_results="objects", put_events=True)),  # an ended execution's manifest
    Step("backfill_items", "Sends a batch of existing objects through ingest, once per object version", 240, 512,
         trigger=BACKFILL_MAP, settings=("INGEST_QUEUE_URL",),
         permissions=Permissions(read_uploads="latest",  # the current version's id and first bytes
                                 job_records=("dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"),
                                 send_to_ingest=True)),
)

BY_NAME: dict[str, Step] = {step.name: step for step in STEPS}

# Functions that are not steps of the pipeline: the web API (media_pipeline/web_api.py; infra/web.py).
OTHER_FUNCTIONS: tuple[str, ...] = ("api",)


def invoked_by_state_machine() -> tuple[Step, ...]:
    return tuple(step for step in STEPS if step.substitution)


def triggered_by(trigger: str) -> Step:
    [step] = [step for step in STEPS if step.trigger == trigger]
    return step


# ---- the EventBridge patterns (the deployment and the local runtime use these, nothing else) ---------------------

def upload_event_pattern(bucket_name: Any, upload_prefix: str) -> dict[str, Any]:
    """S3's "Object Created" for keys under the upload prefix of the media bucket."""
    return {"source": ["aws.s3"], "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [{"prefix": upload_prefix}]}}}


TRANSCRIBE_EVENT_PATTERN: dict[str, Any] = {
    "source": ["aws.transcribe"], "detail-type": ["Transcribe Job State Change"],
    "detail": {"TranscriptionJobName": [{"prefix": TRANSCRIBE_JOB_PREFIX}]},
}


ENDED_STATUSES = ("FAILED", "TIMED_OUT", "ABORTED")  # SUCCEEDED items gave their capacity back on the way
CAPACITY_SWEEP_MINUTES = 5  # release_capacity also runs on this schedule (a lost release delays, never strands)


def execution_ended_pattern(state_machine_arn: Any) -> dict[str, Any]:
    """Step Functions' "Execution Status Change" for an execution of the pipeline that ended other than SUCCEEDED."""
    return {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": list(ENDED_STATUSES), "stateMachineArn": [state_machine_arn]}}


# ---- parity: folders, registry and ASL -------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)FunctionArn\}")


def problems(root: Path, asl_text: str | None = None) -> list[str]:
    """Every way the function folders, STEPS and the ASL disagree, each said with what to do about it."""
    folders = {p.parent.name for p in (root / "functions").glob("*/handler.py")}
    found = []
    for name in sorted(folders - set(BY_NAME) - set(OTHER_FUNCTIONS)):
        found.append(f"functions/{name}/ has no entry in media_pipeline/steps.py: add a Step('{name}', ...) to STEPS "
                     "(docs/adding-a-step.md)")
    for name in sorted(set(BY_NAME) - folders):
        found.append(f"media_pipeline/steps.py lists '{name}' but functions/{name}/handler.py does not exist")
    if asl_text is not None:
        used = {f"{m}FunctionArn" for m in _PLACEHOLDER.findall(asl_text)}
        known = {step.substitution for step in STEPS if step.substitution}
        for substitution in sorted(used - known):
            found.append(f"the ASL uses ${{{substitution}}} but no step invoked by the state machine has that "
                         "name: add the step to media_pipeline/steps.py (without a trigger)")
        for substitution in sorted(known - used):
            found.append(f"the step for ${{{substitution}}} is never invoked by the ASL: add its state, or give the "
                         "step its trigger")
    return found
