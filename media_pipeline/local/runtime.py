"""The offline runtime: the pipeline's own handlers, state machine and event wiring on an embedded emulator.

It builds an emulated AWS account (moto) from the same definitions as the deployment: the ASL file
`statemachines/media_pipeline.asl.json` with its `${...}` substitutions resolved to local ARNs
(SUBSTITUTIONS), the bucket with EventBridge notifications, the EventBridge rules (same patterns), the ingest
queue with its DLQ, the jobs table, the Textract SNS topic, and every function in `functions/<name>/handler.py`
registered under its folder name. Offline engines answer Transcribe, Textract and Bedrock (moto_gaps), and the
Fargate video worker runs as a local process. An upload under `uploads/` then travels the same path as in AWS:
S3 → EventBridge → SQS → ingest → Step Functions → ... → results/<media_id>/manifest.json.

    with LocalPipeline() as pipeline:
        media_id = pipeline.upload("talk.mp3").media_id
        manifest = pipeline.wait(media_id)

Modes: "server" (default) runs moto as an HTTP server on 127.0.0.1 in this process, so the video worker
process can reach it; "mock" runs moto in-process (mock_aws), for tests, with the worker on a thread.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from media_pipeline import steps, workflows
from media_pipeline.local import account, deployment, iam, limits, moto_gaps, service_models
from media_pipeline.local import quotas as quota_rules
from media_pipeline.pipeline_results import PipelineResults

def load_handler(name: str, root: Path = account.PROJECT_ROOT) -> Callable[[dict[str, Any], Any], Any]:
    """functions/<name>/handler.py loaded by path under a unique module name (every folder has a handler.py)."""
    path = root / "functions" / name / "handler.py"
    module_name = f"media_pipeline_local_functions.{name}.handler"
    if module_name in sys.modules:
        return sys.modules[module_name].handler
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module.handler


# moto's own settings for the emulated account: EC2's catalogue of public AMIs is not loaded (the account has a VPC
# for the video worker's tasks and runs no instances), which takes a quarter of a second per start.
EMULATOR_SETTINGS = {"MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


class ColdStart:
    """A function's handler imported on first need, as Lambda's INIT phase does: `init()` imports it (once, whatever
    the threads), calling it runs the handler. The local runtime starts without importing the functions' modules
    and initializes them on a background thread; an invocation that comes first initializes its function itself,
    before its timeout starts (moto_gaps), as INIT is not part of Lambda's invocation timeout."""

    def __init__(self, name: str, root: Path):
        self.name, self.root = name, root
        self._handler: Callable[[dict[str, Any], Any], Any] | None = None
        self._lock = threading.Lock()

    def init(self) -> Callable[[dict[str, Any], Any], Any]:
        if self._handler is None:
            with self._lock:
                if self._handler is None:
                    self._handler = load_handler(self.name, self.root)
        return self._handler

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        return self.init()(event, context)


@dataclass
class Upload:
    media_id: str
    bucket: str
    key: str
    version_id: str | None
    etag: str


@dataclass
class Progress:
    """One step of an item's way: 'uploaded', a state entered/exited, or 'finished'."""

    media_id: str
    kind: str  # uploaded | entered | exited | finished
    state: str = ""
    at: float = field(default_factory=time.time)


ProgressCallback = Callable[[Progress], None]


class LocalPipeline(account.EmulatedAccount):
    """The emulated account with the pipeline deployed in it. Use as a context manager."""

    def __init__(self, *, mode: str = "server", root: Path | str = account.PROJECT_ROOT, engines: bool = True,
                 worker: str | None = None, environment: Mapping[str, str] | None = None,
                 warm_engines: bool = False, log_level: str = "WARNING", enforce_iam: bool = True,
                 ingest_visibility_timeout: int | None = None, quotas: "quota_rules.Quotas | None" = None,
                 faults: "quota_rules.Faults | None" = None, schedule_time_scale: float = 1.0,
                 on_phase: Callable[[str], None] | None = None):
        if mode not in ("server", "mock"):
            raise ValueError("mode is 'server' or 'mock'")
        self.mode = mode
        self.root = Path(root)
        self.engines = engines
        self.worker = worker or ("process" if mode == "server" else "thread")
        self.extra_environment = dict(environment or {})
        self.warm_engines = warm_engines
        self.log_level = log_level
        self.endpoint_url: str | None = None
        self.bucket, self.table = account.BUCKET, account.TABLE
        self.state_machine_arn = ""
        self.express_state_machine_arn = ""
        self.substitutions: dict[str, str] = dict(account.SUBSTITUTIONS)
        self.enforce_iam = enforce_iam
        self.ingest_visibility_timeout = ingest_visibility_timeout  # None: as deployed; tests shorten it
        # Service quotas (AWS's defaults unless given) and injected faults (none unless given): quotas.py. The
        # pipeline's own Textract limit (TEXTRACT_MAX_JOBS) follows the emulated quota when one is given.
        if quotas is None or faults is None:
            from_env = quota_rules.from_environment(os.environ)
            quotas, faults = quotas or from_env[0], faults or from_env[1]
        self.quotas, self.faults = quotas, faults
        self.schedule_time_scale = schedule_time_scale  # EventBridge schedules fire this much sooner (< 1) in tests
        self.snapshot = deployment.load()
        self.binding = account.binding(self.snapshot, bucket=self.bucket, table=self.table)
        self._server: moto_gaps.EmulatorServer | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}
        self._session: Any = None  # one boto3 session for this pipeline's own clients
        self._handlers: dict[str, ColdStart] = {}
        self._execution_arns: dict[str, str] = {}  # media id -> its execution, once its job record names it
        self._functions_initialized = threading.Event()  # set once every function's module is imported
        self._initializer: threading.Thread | None = None
        self._stopping = threading.Event()
        self.on_phase = on_phase or (lambda text: None)  # what start() is doing, for a progress display

    # ---- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> "LocalPipeline":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> "LocalPipeline":
        disagreements = steps.problems(self.root, account.asl_path(self.root).read_text(encoding="utf-8"))
        disagreements += account.stale_snapshot(self.snapshot)
        if disagreements:  # one clear error rather than a KeyError and its knock-on failures
            raise RuntimeError("the step registry, functions/, the ASL and the deployment snapshot disagree:\n- " + "\n- ".join(disagreements))
        moto_gaps.uninstall()
        iam.uninstall()
        service_models.install()
        if self.engines:  # before the emulator's threads: their allocations share two arenas (engines/__init__.py)
            from media_pipeline.local.engines import limit_allocator_arenas

            limit_allocator_arenas()
        self.on_phase("Starting the AWS emulator")
        if self.mode == "server":
            self._server = moto_gaps.start_server()
            self.endpoint_url = self._server.endpoint_url
        else:
            from moto import mock_aws

            self._mock = mock_aws(config=moto_gaps.MOTO_CONFIG)
            self._mock.start()
        self._set_environment({**EMULATOR_SETTINGS, **self.function_environment()})
        self.on_phase("Registering the pipeline's functions and the offline engines with the emulator")
        self._install_workarounds()
        self.on_phase("Building the emulated account: bucket, table, queues, rules, roles, state machine, functions")
        self._build_account()
        # What the first items need next, on a background thread while they are uploaded: the functions' code
        # (Lambda's INIT) and, when asked for, the engines' models. Each is also loaded by its first use.
        self._stopping.clear()
        self._initializer = threading.Thread(target=self._initialize, name="initialize-functions", daemon=True)
        self._initializer.start()
        return self

    def _initialize(self) -> None:
        try:
            for handler in self._handlers.values():
                try:
                    handler.init()
                except Exception:  # noqa: BLE001 - the invocation that needs it gets the same error, as Lambda's INIT
                    pass
        finally:
            self._functions_initialized.set()
        if self.warm_engines and self.engines:
            warm_engines(self._stopping)

    def stop(self) -> None:
        if self._initializer is not None:  # the functions' modules import with this pipeline's environment
            self._functions_initialized.wait(timeout=60)
            # A model still loading when the process exits aborts it (a native thread left joinable): the warm-up
            # stops before its next model, and the one it is loading is waited for.
            self._stopping.set()
            self._initializer.join(timeout=60)
            self._initializer = None
        moto_gaps.wait_for_background_work(timeout=10)
        moto_gaps.uninstall()
        iam.uninstall()
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env.clear()
        _reset_pipeline_caches()

    # ---- configuration -------------------------------------------------------------------------------------------

    def function_environment(self) -> dict[str, str]:
        """The functions' environment (docs/architecture.md), as CDK sets it, for the emulated account."""
        from media_pipeline.local.engines.extractive import MODEL_ID

        env = {
            "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
            "AWS_DEFAULT_REGION": account.REGION, "AWS_REGION": account.REGION,
            "MEDIA_BUCKET": self.bucket, "JOBS_TABLE": self.table, "EVENT_BUS_NAME": "default",
            "UPLOAD_PREFIX": account.UPLOAD_PREFIX, "RESULTS_PREFIX": account.RESULTS_PREFIX,
            "STATE_MACHINE_ARN": f"arn:aws:states:{account.REGION}:{account.ACCOUNT}:stateMachine:{account.STATE_MACHINE_NAME}",
            "EXPRESS_STATE_MACHINE_ARN":
                f"arn:aws:states:{account.REGION}:{account.ACCOUNT}:stateMachine:{account.EXPRESS_STATE_MACHINE_NAME}",
            "MAX_MEDIA_BYTES": str(2 * 1024**3), "TRANSCRIBE_LANGUAGE": "auto",
            "BEDROCK_MODEL_ID": MODEL_ID,  # honest: the manifest says the enrichment is extractive
            "ENRICHMENT_MAX_INPUT_TOKENS": "6000", "ENRICHMENT_TOKEN_BUDGET": "200000",
            "TEXTRACT_SNS_TOPIC_ARN": self.binding.arn("AiServicesTextractTopic"),
            "TEXTRACT_ROLE_ARN": self.binding.arn(account.service_role(self.snapshot, "textract.amazonaws.com")),
            "TRANSCRIBE_DATA_ACCESS_ROLE_ARN": self.binding.arn(
                account.service_role(self.snapshot, "transcribe.amazonaws.com")),
            # The pipeline's own Textract limit follows the emulated quota (leave none for other users locally).
            "TEXTRACT_MAX_JOBS": str(self.quotas.textract_concurrent_jobs),
            "CAPACITY_LEASE_SECONDS": "3600",
            "VIDEO_LAMBDA_MAX_SECONDS": "600", "LANGUAGE_IDENTIFICATION": "enabled",
            "INGEST_QUEUE_URL": self.binding.ref("IngestQueue"), "RECONCILE_GRACE_SECONDS": "900",
            "POWERTOOLS_SERVICE_NAME": "media-pipeline", "POWERTOOLS_METRICS_NAMESPACE": "MediaPipeline",
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update(self.extra_environment)
        return env

    def _set_environment(self, env: Mapping[str, str]) -> None:
        for name in list(env) + ["AWS_PROFILE"] + ([] if self.endpoint_url else ["AWS_ENDPOINT_URL"]):
            self._saved_env.setdefault(name, os.environ.get(name))
        os.environ.pop("AWS_PROFILE", None)
        if not self.endpoint_url:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        os.environ.update(env)
        _reset_pipeline_caches()

    def client(self, service: str) -> Any:
        if service not in self._clients:
            import boto3

            if self._session is None:  # one session: each service's model is loaded once
                self._session = boto3.session.Session()
            self._clients[service] = self._session.client(service, region_name=account.REGION,
                                                          endpoint_url=self.endpoint_url)
        return self._clients[service]

    def _install_workarounds(self) -> None:
        self._handlers = {name: ColdStart(name, self.root) for name in account.FUNCTIONS
                          if (self.root / "functions" / name / "handler.py").is_file()}
        moto_gaps.install_speedups()
        if self._server is not None:
            moto_gaps.install_direct_requests(self._server)
        moto_gaps.install_lambda_runtime(self._handlers)
        moto_gaps.install_task_callbacks()
        moto_gaps.install_event_delivery()
        if self.engines:
            from media_pipeline.local.engines import extractive, language, ocr, pii, speech

            moto_gaps.install_ai_engines(transcribe=speech.transcribe, textract=ocr.detect_text,
                                         bedrock=extractive.converse,
                                         comprehend_language=language.detect_dominant_language,
                                         comprehend_pii=pii.detect_pii_entities)
        moto_gaps.install_task_runner({account.WORKER_FAMILY: self._run_worker})
        moto_gaps.install_capacity(self.quotas, self.faults)
        moto_gaps.install_execution_events()
        moto_gaps.install_express_executions()  # after install_execution_events: Express sends none
        moto_gaps.install_stop_execution()
        moto_gaps.install_schedules(self.schedule_time_scale)
        moto_gaps.install_message_move_tasks()
        moto_gaps.install_distributed_map()  # backfill (statemachines/backfill.asl.json)
        # Browser requests (the web page): the API function's role signs the upload policies (web_api.py).
        api_role = self.snapshot["functions"].get("api", {}).get("role")
        moto_gaps.install_post_policy(secrets={"local": "local"},
                                      signer_roles={"local": self.binding.arn(api_role)} if api_role and self.enforce_iam else {})
        moto_gaps.install_presigned_url_expiry()
        limits.install_limits()
        if self.enforce_iam:
            self._install_iam()

    def _install_iam(self) -> None:
        """Every role of the template enforced on the calls made as it (docs/local-mode.md, "IAM")."""
        iam.register_snapshot(self.snapshot, self.binding, token_state_machine=lambda token: self.state_machine_arn or None)
        iam.install()
        moto_gaps.install_principals()

    def _run_worker(self, environment: dict[str, str]) -> Any:
        """The Fargate task: containers/media_worker/worker.py as a local process (or a thread in mock mode)."""
        script = self.root / "containers" / "media_worker" / "worker.py"
        env = {**environment, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
               "AWS_SESSION_TOKEN": "local"}
        if self.worker == "process":
            env.update({"AWS_ENDPOINT_URL": self.endpoint_url or "", "PATH": os.environ.get("PATH", ""),
                        "PYTHONPATH": str(self.root), "HOME": os.environ.get("HOME", "/tmp")})
            if os.environ.get(iam.LOG_VARIABLE):
                env[iam.LOG_VARIABLE] = os.environ[iam.LOG_VARIABLE]
            quiet = self.log_level.upper() not in ("DEBUG", "INFO")
            command = [sys.executable, str(script)]
            if self.enforce_iam:  # the process acts as the task role, as a Fargate task's SDK would
                command = [sys.executable, "-m", "media_pipeline.local.principal_process",
                           "--role", iam.current() or "", "--state-machine", self.state_machine_arn,
                           "--names", json.dumps(self.binding.names), "--", str(script)]
            return subprocess.Popen(command, env=env, cwd=str(self.root),
                                    stdout=subprocess.DEVNULL if quiet else sys.stderr, stderr=sys.stderr)
        spec = importlib.util.spec_from_file_location("media_pipeline_local_worker", script)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module.main(env)

    # ---- using it ----------------------------------------------------------------------------------------------

    def upload(self, source: str | os.PathLike[str] | bytes, *, name: str | None = None,
               on_progress: ProgressCallback | None = None) -> Upload:
        """put_object under uploads/: the same event path as in AWS starts the item. Returns its media id."""
        from media_pipeline.ids import media_id_for

        if isinstance(source, (bytes, bytearray)):
            body, name = bytes(source), name or "upload.bin"
        else:
            path = Path(source)
            body, name = path.read_bytes(), name or path.name
        key = f"{account.UPLOAD_PREFIX}{name}"
        response = self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body)
        version_id = response.get("VersionId")
        etag = response["ETag"].strip('"')
        media_id = media_id_for(self.bucket, key, version_id or etag)
        if on_progress:
            on_progress(Progress(media_id, "uploaded"))
        return Upload(media_id=media_id, bucket=self.bucket, key=key, version_id=version_id, etag=etag)

    @property
    def results(self) -> PipelineResults:
        return PipelineResults(bucket=self.bucket, table=self.table, s3=self.client("s3"),
                               dynamodb=self.client("dynamodb"), results_prefix=account.RESULTS_PREFIX)

    def job(self, media_id: str) -> dict[str, str] | None:
        return self.results.job(media_id)

    def manifest(self, media_id: str) -> dict[str, Any] | None:
        return self.results.manifest(media_id)

    def wait(self, media_id: str, *, timeout: float = 600, on_progress: ProgressCallback | None = None,
             poll_seconds: float = 0.2) -> dict[str, Any]:
        """Block until the item's manifest is written; report states entered and exited on the way."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            written = moto_gaps.change_sequence()  # before the read: a write after it ends the wait below at once
            manifest = self.manifest(media_id)
            if on_progress:
                seen = self.report_progress(media_id, seen, on_progress)
            if manifest is not None:
                if on_progress:
                    on_progress(Progress(media_id, "finished", manifest.get("status", "")))
                return manifest
            if time.monotonic() > deadline:
                raise TimeoutError(f"no manifest for {media_id} after {timeout:.0f} s")
            # the history is read every poll_seconds when it is reported; the manifest once the job record is written
            moto_gaps.wait_for_change(written, key=f"MEDIA#{media_id}",
                                      timeout=poll_seconds if on_progress else max(poll_seconds, 1.0))

    def execution_arn(self, media_id: str) -> str:
        """The item's execution: an Express one's ARN is in its job record (ingest wrote it), a Standard one's is
        named by the media id."""
        known = self._execution_arns.get(media_id)
        if known:
            return known
        recorded = (self.job(media_id) or {}).get("execution_arn", "")
        if recorded:  # ingest records a Standard execution's ARN with the job, an Express one's once started
            self._execution_arns[media_id] = recorded
        if workflows.is_express_execution(recorded):
            return recorded
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{media_id}"

    def change_sequence(self) -> int:
        """A mark to pass to `changes`."""
        return moto_gaps.change_sequence()

    def changes(self, after: int, timeout: float) -> tuple[int, set[str]]:
        """Wait up to `timeout` seconds for the emulator to write anything after the mark `after`; returns the new
        mark and the media ids whose job record or execution history changed since `after`. Waiters read only
        those items again instead of polling every item."""
        sequence = moto_gaps.wait_for_change(after, timeout=timeout)
        changed = set()
        for key in moto_gaps.changed_keys(after):
            if key.startswith("MEDIA#"):
                changed.add(key[len("MEDIA#"):])
            elif key.startswith("arn:") and key.count(":") >= 7:  # an execution: <...>:execution|express:<machine>:<name>
                changed.add(key.split(":")[7])
        return sequence, changed

    def execution_status(self, media_id: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, ...; "" when there is no execution (yet)."""
        arn = self.execution_arn(media_id)
        if workflows.is_express_execution(arn):  # no DescribeExecution for Express: what its log says
            return moto_gaps.express_execution_log(arn)[0]
        sfn = self.client("stepfunctions")
        try:
            return sfn.describe_execution(executionArn=arn)["status"]
        except sfn.exceptions.ExecutionDoesNotExist:
            return ""

    def history(self, media_id: str) -> list[dict[str, Any]]:
        """The execution's events: GetExecutionHistory, or for an Express execution (which has none) the events its
        log group holds."""
        arn = self.execution_arn(media_id)
        if workflows.is_express_execution(arn):
            return moto_gaps.express_execution_log(arn)[1]
        sfn = self.client("stepfunctions")
        try:
            pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn,
                                                                        PaginationConfig={"PageSize": 1000})
            return [event for page in pages for event in page["events"]]
        except sfn.exceptions.ExecutionDoesNotExist:
            return []

    def report_progress(self, media_id: str, seen: int, on_progress: ProgressCallback) -> int:
        """Report the execution's history events after the first `seen` ones; returns the new count."""
        events = self.history(media_id)
        for event in events[seen:]:
            kind = event["type"]
            if kind.endswith("StateEntered"):
                on_progress(Progress(media_id, "entered", event["stateEnteredEventDetails"]["name"]))
            elif kind.endswith("StateExited"):
                on_progress(Progress(media_id, "exited", event["stateExitedEventDetails"]["name"]))
        return len(events)

    def process(self, path: str | os.PathLike[str], *, timeout: float = 600,
                on_progress: ProgressCallback | None = None, poll_seconds: float = 0.2) -> dict[str, Any]:
        upload = self.upload(path, on_progress=on_progress)
        return self.wait(upload.media_id, timeout=timeout, on_progress=on_progress, poll_seconds=poll_seconds)

    def download_results(self, media_id: str, directory: str | os.PathLike[str]) -> list[Path]:
        return self.results.download(media_id, directory)


def warm_engines(stop: threading.Event | None = None) -> None:
    """Load the speech, OCR and language models now, so the first item does not wait for them; none after `stop`
    is set."""
    from media_pipeline.local.engines import language, ocr, speech

    for load in (speech.model, ocr.engine, language.identifier):
        if stop is not None and stop.is_set():
            return
        load()


def _reset_pipeline_caches() -> None:
    from media_pipeline import aws, settings

    aws.reset_clients()
    settings.settings.cache_clear()
