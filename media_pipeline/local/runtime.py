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
import io
import json
import os
import re
import subprocess
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from media_pipeline import steps
from media_pipeline.local import deployment, iam, limits, moto_gaps
from media_pipeline.pipeline_results import PipelineResults

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STATE_MACHINE_NAME = "media-pipeline"
BUCKET = "media-pipeline-local"
TABLE = "media-pipeline-jobs"
UPLOAD_PREFIX = "uploads/"
RESULTS_PREFIX = "results/"

FUNCTIONS: tuple[str, ...] = tuple(step.name for step in steps.STEPS)  # the step registry, in order
WORKER_FAMILY = "media-worker"
WORKER_CONTAINER = "media-worker"
INGEST_QUEUE = "media-pipeline-ingest"
INGEST_DLQ = "media-pipeline-ingest-dlq"
TEXTRACT_TOPIC = "media-pipeline-textract"
CLUSTER = "media-pipeline"

# The template's resources (deployment.json symbols) that the emulated account names itself; every other
# resource, the roles among them, keeps its symbol as its name.
TEMPLATE_NAMES: dict[str, str] = {
    "StorageMediaBucket": BUCKET, "StorageJobsTable": TABLE, "WorkflowStateMachine": STATE_MACHINE_NAME,
    "IngestQueue": INGEST_QUEUE, "IngestDeadLetterQueue": INGEST_DLQ, "AiServicesTextractTopic": TEXTRACT_TOPIC,
    "VideoWorkerCluster": CLUSTER, "VideoWorkerTaskDefinition": f"{WORKER_FAMILY}:1",
    "IngestUploadRule": "media-pipeline-uploads", "AiServicesTranscribeJobStateRule": "media-pipeline-transcribe-state",
}


def binding(snapshot: Mapping[str, Any], *, bucket: str = BUCKET, table: str = TABLE) -> deployment.Binding:
    """The template's symbols bound to the emulated account's names and ARNs."""
    names = {**TEMPLATE_NAMES, "StorageMediaBucket": bucket, "StorageJobsTable": table,
             **{spec["symbol"]: name for name, spec in snapshot["functions"].items()}}
    unknown = sorted(set(names) - set(snapshot["resource_types"]))
    if unknown:
        raise KeyError(f"the template has no resources {unknown}: regenerate media_pipeline/local/deployment.json "
                       "(python -m media_pipeline.local.deployment --write) or update TEMPLATE_NAMES")
    return deployment.Binding(region=REGION, account=ACCOUNT, names=names, types=dict(snapshot["resource_types"]))


def stale_snapshot(snapshot: Mapping[str, Any]) -> list[str]:
    """Steps the deployment snapshot does not know yet: infra/ changed and the snapshot was not regenerated."""
    missing = [step.name for step in steps.STEPS if step.name not in snapshot["functions"]]
    return [f"media_pipeline/local/deployment.json has no function {', '.join(missing)}: run `make "
            "deployment-snapshot` after changing the registry or infra/"] if missing else []


def service_role(snapshot: Mapping[str, Any], service: str) -> str:
    """The template's role that `service` assumes (one per service in this app)."""
    found = [name for name, role in snapshot["roles"].items() if service in role["trusted_services"]]
    if len(found) != 1:
        raise KeyError(f"expected one role trusted by {service} in the template, found {found}")
    return found[0]


def function_arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


# The definition substitutions of the ASL file, resolved for the emulated account: the one place they are
# listed for the local mode (infra/workflow.py lists the deployed ones; a test keeps the names the same).
SUBSTITUTIONS: dict[str, str] = {
    **{step.substitution: function_arn(step.name) for step in steps.invoked_by_state_machine()},
    "MediaWorkerClusterArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/media-pipeline",
    "MediaWorkerTaskDefinitionArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{WORKER_FAMILY}:1",
    "MediaWorkerContainerName": WORKER_CONTAINER,
    "MediaWorkerSubnet1": "",  # the emulated VPC's subnet ids, filled in when the account is built
    "MediaWorkerSubnet2": "",
    "MediaWorkerSecurityGroupId": "",
    "MediaWorkerAssignPublicIp": "DISABLED",
}

# The EventBridge rules, with the deployment's patterns (media_pipeline/steps.py).
UPLOAD_RULE = TEMPLATE_NAMES["IngestUploadRule"]
TRANSCRIBE_RULE = TEMPLATE_NAMES["AiServicesTranscribeJobStateRule"]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def asl_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "statemachines" / "media_pipeline.asl.json"


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def resolve_definition(text: str, substitutions: Mapping[str, str]) -> str:
    """Replace every ${Name} as CDK's DefinitionSubstitutions does; an unknown name is an error, not a gap."""
    missing = placeholders(text) - set(substitutions)
    if missing:
        raise KeyError(f"the state machine uses substitutions the local runtime does not define: {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)


def load_handler(name: str, root: Path = PROJECT_ROOT) -> Callable[[dict[str, Any], Any], Any]:
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


class LocalPipeline:
    """The emulated account with the pipeline deployed in it. Use as a context manager."""

    def __init__(self, *, mode: str = "server", root: Path | str = PROJECT_ROOT, engines: bool = True,
                 worker: str | None = None, environment: Mapping[str, str] | None = None,
                 warm_engines: bool = False, log_level: str = "WARNING", enforce_iam: bool = True,
                 ingest_visibility_timeout: int | None = None):
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
        self.bucket, self.table = BUCKET, TABLE
        self.state_machine_arn = ""
        self.substitutions: dict[str, str] = dict(SUBSTITUTIONS)
        self.enforce_iam = enforce_iam
        self.ingest_visibility_timeout = ingest_visibility_timeout  # None: as deployed; tests shorten it
        self.snapshot = deployment.load()
        self.binding = binding(self.snapshot, bucket=self.bucket, table=self.table)
        self._server: moto_gaps.EmulatorServer | None = None
        self._mock: Any = None
        self._saved_env: dict[str, str | None] = {}
        self._clients: dict[str, Any] = {}

    # ---- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> "LocalPipeline":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> "LocalPipeline":
        disagreements = steps.problems(self.root, asl_path(self.root).read_text(encoding="utf-8"))
        disagreements += stale_snapshot(self.snapshot)
        if disagreements:  # one clear error rather than a KeyError and its knock-on failures
            raise RuntimeError("the step registry, functions/, the ASL and the deployment snapshot disagree:\n- " + "\n- ".join(disagreements))
        moto_gaps.uninstall()
        iam.uninstall()
        if self.mode == "server":
            self._server = moto_gaps.start_server()
            self.endpoint_url = self._server.endpoint_url
        else:
            from moto import mock_aws

            self._mock = mock_aws(config=moto_gaps.MOTO_CONFIG)
            self._mock.start()
        self._set_environment(self.function_environment())
        self._install_workarounds()
        if self.warm_engines and self.engines:
            threading.Thread(target=warm_engines, name="warm-engines", daemon=True).start()
        self._build_account()
        return self

    def stop(self) -> None:
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
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
            "MEDIA_BUCKET": self.bucket, "JOBS_TABLE": self.table, "EVENT_BUS_NAME": "default",
            "UPLOAD_PREFIX": UPLOAD_PREFIX, "RESULTS_PREFIX": RESULTS_PREFIX,
            "STATE_MACHINE_ARN": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}",
            "MAX_MEDIA_BYTES": str(2 * 1024**3), "TRANSCRIBE_LANGUAGE": "auto",
            "BEDROCK_MODEL_ID": MODEL_ID,  # honest: the manifest says the enrichment is extractive
            "ENRICHMENT_MAX_INPUT_TOKENS": "6000", "ENRICHMENT_TOKEN_BUDGET": "200000",
            "TEXTRACT_SNS_TOPIC_ARN": self.binding.arn("AiServicesTextractTopic"),
            "TEXTRACT_ROLE_ARN": self.binding.arn(service_role(self.snapshot, "textract.amazonaws.com")),
            "VIDEO_LAMBDA_MAX_SECONDS": "600", "LANGUAGE_IDENTIFICATION": "enabled",
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

            self._clients[service] = boto3.session.Session().client(service, region_name=REGION,
                                                                    endpoint_url=self.endpoint_url)
        return self._clients[service]

    def _install_workarounds(self) -> None:
        handlers = {name: load_handler(name, self.root) for name in FUNCTIONS
                    if (self.root / "functions" / name / "handler.py").is_file()}
        moto_gaps.install_lambda_runtime(handlers)
        moto_gaps.install_task_callbacks()
        moto_gaps.install_event_delivery()
        if self.engines:
            from media_pipeline.local.engines import extractive, language, ocr, pii, speech

            moto_gaps.install_ai_engines(transcribe=speech.transcribe, textract=ocr.detect_text,
                                         bedrock=extractive.converse,
                                         comprehend_language=language.detect_dominant_language,
                                         comprehend_pii=pii.detect_pii_entities)
        moto_gaps.install_task_runner({WORKER_FAMILY: self._run_worker})
        limits.install_limits()
        if self.enforce_iam:
            self._install_iam()

    def _install_iam(self) -> None:
        """Every role of the template enforced on the calls made as it (docs/local-mode.md, "IAM")."""
        iam.register_snapshot(self.snapshot, self.binding, token_state_machine=lambda token: self.state_machine_arn or None)
        iam.install()
        moto_gaps.install_principals()

    # ---- the emulated account ------------------------------------------------------------------------------------

    def _build_account(self) -> None:
        env = self.function_environment()
        self._build_roles()

        s3 = self.client("s3")
        s3.create_bucket(Bucket=self.bucket)
        s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(Bucket=self.bucket,
                                                 NotificationConfiguration={"EventBridgeConfiguration": {}})

        ddb = self.client("dynamodb")
        ddb.create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}])
        ddb.update_time_to_live(TableName=self.table,
                                TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"})

        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:  # the code that runs is the checkout's, by name
            archive.writestr("README.txt", "handlers run in-process from functions/<name>/handler.py")
        lam = self.client("lambda")
        for name in FUNCTIONS:
            spec = self.snapshot["functions"][name]  # role, timeout and memory as deployed
            lam.create_function(FunctionName=name, Runtime="python3.12", Role=self.binding.arn(spec["role"]),
                                Handler="handler.handler", Code={"ZipFile": code.getvalue()},
                                Timeout=spec["timeout_seconds"], MemorySize=spec["memory_mib"],
                                Environment={"Variables": {k: v for k, v in env.items() if not k.startswith("AWS_")}})

        sqs = self.client("sqs")
        ingest = self.snapshot["queues"]["IngestQueue"]  # visibility timeout and receives as deployed
        [mapping] = [m for m in self.snapshot["event_sources"] if m["function"] == steps.triggered_by(steps.UPLOADS).name]
        dlq = sqs.create_queue(QueueName=INGEST_DLQ)["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        queue = sqs.create_queue(QueueName=INGEST_QUEUE, Attributes={
            "VisibilityTimeout": str(self.ingest_visibility_timeout or ingest["visibility_timeout_seconds"]),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": str(ingest["max_receive_count"])})})["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=mapping["function"], BatchSize=mapping["batch_size"],
                                        FunctionResponseTypes=["ReportBatchItemFailures"])

        events = self.client("events")
        events.put_rule(Name=UPLOAD_RULE, EventPattern=json.dumps(steps.upload_event_pattern(self.bucket, UPLOAD_PREFIX)))
        events.put_targets(Rule=UPLOAD_RULE, Targets=[{"Id": "ingest-queue", "Arn": queue_arn}])
        events.put_rule(Name=TRANSCRIBE_RULE, EventPattern=json.dumps(steps.TRANSCRIBE_EVENT_PATTERN))
        callback = steps.triggered_by(steps.TRANSCRIBE_EVENTS).name
        events.put_targets(Rule=TRANSCRIBE_RULE, Targets=[{"Id": "callback", "Arn": function_arn(callback)}])

        sns = self.client("sns")
        topic = sns.create_topic(Name=TEXTRACT_TOPIC)["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="lambda",
                      Endpoint=function_arn(steps.triggered_by(steps.TEXTRACT_TOPIC).name))

        self._build_worker(env)

        definition = resolve_definition(asl_path(self.root).read_text(encoding="utf-8"), self.substitutions)
        self.state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, type="STANDARD",
            roleArn=self.binding.arn(self.snapshot["state_machines"]["WorkflowStateMachine"]["role"]))["stateMachineArn"]

    def _build_roles(self) -> None:
        """Every role of the template, with its trust policy (its permissions are enforced by `iam`)."""
        iam_client = self.client("iam")
        for name, role in self.snapshot["roles"].items():
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": role["trusted_services"]}}]}
            iam_client.create_role(RoleName=self.binding.name(name), AssumeRolePolicyDocument=json.dumps(trust))

    def _build_worker(self, env: Mapping[str, str]) -> None:
        ec2 = self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})  # as CDK's Vpc; moto needs it
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)]
        group = ec2.create_security_group(GroupName="media-worker", Description="video worker", VpcId=vpc)["GroupId"]
        self.substitutions.update(MediaWorkerSubnet1=subnets[0], MediaWorkerSubnet2=subnets[1],
                                  MediaWorkerSecurityGroupId=group)
        ecs = self.client("ecs")
        cluster = ecs.create_cluster(clusterName=CLUSTER)["cluster"]["clusterArn"]
        roles = self.snapshot["task_definitions"]["VideoWorkerTaskDefinition"]
        worker_env = {k: v for k, v in env.items() if k in ("JOBS_TABLE", "RESULTS_PREFIX", "AWS_REGION",
                                                             "AWS_DEFAULT_REGION", "POWERTOOLS_SERVICE_NAME",
                                                             "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED",
                                                             "POWERTOOLS_TRACE_DISABLED")
                      or k.startswith("VIDEO_")}
        definition = ecs.register_task_definition(
            family=WORKER_FAMILY, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="1024",
            memory="4096", taskRoleArn=self.binding.arn(roles["task_role"]),
            executionRoleArn=self.binding.arn(roles["execution_role"]), containerDefinitions=[{
                "name": WORKER_CONTAINER, "image": "media-worker:local", "essential": True, "memory": 4096,
                "environment": [{"name": k, "value": v} for k, v in sorted(worker_env.items())]}],
        )["taskDefinition"]["taskDefinitionArn"]
        self.substitutions.update(MediaWorkerClusterArn=cluster, MediaWorkerTaskDefinitionArn=definition)

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
        key = f"{UPLOAD_PREFIX}{name}"
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
                               dynamodb=self.client("dynamodb"), results_prefix=RESULTS_PREFIX)

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
            manifest = self.manifest(media_id)
            if on_progress:
                seen = self.report_progress(media_id, seen, on_progress)
            if manifest is not None:
                if on_progress:
                    on_progress(Progress(media_id, "finished", manifest.get("status", "")))
                return manifest
            if time.monotonic() > deadline:
                raise TimeoutError(f"no manifest for {media_id} after {timeout:.0f} s")
            time.sleep(poll_seconds)

    def execution_arn(self, media_id: str) -> str:
        return self.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{media_id}"

    def history(self, media_id: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        try:
            events: list[dict[str, Any]] = []
            kwargs: dict[str, Any] = {"executionArn": self.execution_arn(media_id), "maxResults": 1000}
            while True:
                page = sfn.get_execution_history(**kwargs)
                events.extend(page["events"])
                if not page.get("nextToken"):
                    return events
                kwargs["nextToken"] = page["nextToken"]
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


def warm_engines() -> None:
    """Load the speech, OCR and language models now, so the first item does not wait for them."""
    from media_pipeline.local.engines import language, ocr, speech

    speech.model()
    ocr.engine()
    language.identifier()


def _reset_pipeline_caches() -> None:
    from media_pipeline import aws, settings

    aws.reset_clients()
    settings.settings.cache_clear()
