"""The emulated AWS account the local mode deploys the pipeline into: the names it gives the template's resources,
the ASL's substitutions resolved to them, and the resources themselves built from the deployment snapshot (every
role, each function with its own role, timeout and memory, the ingest queue with its redrive, the rules with the
registry's patterns, the Textract topic, the worker's cluster and task definition, the state machine)."""
from __future__ import annotations

import base64
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Mapping

from media_pipeline import steps, workflows
from media_pipeline.jobs import OWNER_INDEX
from media_pipeline.local import deployment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ACCOUNT = "123456789012"
STATE_MACHINE_NAME = "media-pipeline"
EXPRESS_STATE_MACHINE_NAME = "media-pipeline-express"
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
# The backfill state machine keeps the template's name: its role names it (a Distributed Map starts its children as
# executions of itself). Its map settings are cdk.json's defaults (infra/settings.py).
BACKFILL_STATE_MACHINE_NAME = "MediaPipeline-backfill"
BACKFILL_SETTINGS: dict[str, str] = {"BatchSize": "50", "MaxConcurrency": "10", "ToleratedFailurePercentage": "5"}

# The template's resources (deployment.json symbols) that the emulated account names itself; every other
# resource, the roles among them, keeps its symbol as its name.
TEMPLATE_NAMES: dict[str, str] = {
    "StorageMediaBucket": BUCKET, "StorageJobsTable": TABLE, "WorkflowStateMachine": STATE_MACHINE_NAME,
    "WorkflowExpressStateMachine": EXPRESS_STATE_MACHINE_NAME,
    "IngestQueue": INGEST_QUEUE, "IngestDeadLetterQueue": INGEST_DLQ, "AiServicesTextractTopic": TEXTRACT_TOPIC,
    "VideoWorkerCluster": CLUSTER, "VideoWorkerTaskDefinition": f"{WORKER_FAMILY}:1",
    "IngestUploadRule": "media-pipeline-uploads", "AiServicesTranscribeJobStateRule": "media-pipeline-transcribe-state",
    "ExecutionEndedRule": "media-pipeline-execution-ended", "CapacitySweepRule": "media-pipeline-capacity-sweep",
    "BackfillStateMachine": BACKFILL_STATE_MACHINE_NAME,
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
EXECUTION_ENDED_RULE = TEMPLATE_NAMES["ExecutionEndedRule"]
CAPACITY_SWEEP_RULE = TEMPLATE_NAMES["CapacitySweepRule"]

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")


def asl_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "statemachines" / "media_pipeline.asl.json"


def backfill_asl_path(root: Path = PROJECT_ROOT) -> Path:
    return root / "statemachines" / "backfill.asl.json"


def placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def resolve_definition(text: str, substitutions: Mapping[str, str]) -> str:
    """Replace every ${Name} as CDK's DefinitionSubstitutions does; an unknown name is an error, not a gap."""
    missing = placeholders(text) - set(substitutions)
    if missing:
        raise KeyError(f"the state machine uses substitutions the local runtime does not define: {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: substitutions[m.group(1)], text)


class EmulatedAccount:
    """The pipeline's resources in the emulated account (LocalPipeline builds them when it starts)."""

    root: Path
    bucket: str
    table: str
    snapshot: dict[str, Any]
    binding: deployment.Binding
    substitutions: dict[str, str]
    state_machine_arn: str
    express_state_machine_arn: str
    backfill_state_machine_arn: str = ""
    backfill_settings: dict[str, str] = BACKFILL_SETTINGS  # an instance may replace it before the account is built

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def function_environment(self) -> dict[str, str]:
        raise NotImplementedError

    def _build_account(self) -> None:
        """Every resource created in the emulator's own service backends, as CloudFormation creates a stack's: with
        the same parameters as the API calls, but without an HTTP request, an SDK client and an authorization per
        resource (a deployment is not a call that any of the template's roles makes)."""
        env = self.function_environment()
        self._build_roles()

        s3 = _backend("s3")
        s3.create_bucket(self.bucket, REGION)
        s3.put_bucket_versioning(self.bucket, "Enabled")
        s3.put_bucket_notification_configuration(self.bucket, {"EventBridgeConfiguration": {}})

        ddb = _backend("dynamodb")
        ddb.create_table(self.table, billing_mode="PAY_PER_REQUEST", throughput=None, streams=None,
                         schema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                 {"AttributeName": "sk", "KeyType": "RANGE"}],
                         attr=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "owner", "created_at")],
                         global_indexes=[{  # as infra/storage.py: a web user's items, newest first
                             "IndexName": OWNER_INDEX, "Projection": {"ProjectionType": "ALL"},
                             "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"},
                                           {"AttributeName": "created_at", "KeyType": "RANGE"}]}],
                         indexes=[], sse_specification=None, tags=[], deletion_protection_enabled=False,
                         warm_throughput=None)
        ddb.update_time_to_live(self.table, {"Enabled": True, "AttributeName": "expires_at"})

        lam = _backend("lambda")
        code = _placeholder_code()
        for name in FUNCTIONS:
            spec = self.snapshot["functions"][name]  # role, timeout and memory as deployed
            lam.create_function({"FunctionName": name, "Runtime": "python3.12", "Role": self.binding.arn(spec["role"]),
                                 "Handler": "handler.handler", "Code": {"ZipFile": code},
                                 "Timeout": spec["timeout_seconds"], "MemorySize": spec["memory_mib"],
                                 "Environment": {"Variables": {k: v for k, v in env.items() if not k.startswith("AWS_")}}})

        sqs = _backend("sqs")
        ingest = self.snapshot["queues"]["IngestQueue"]  # visibility timeout and receives as deployed
        [mapping] = [m for m in self.snapshot["event_sources"] if m["function"] == steps.triggered_by(steps.UPLOADS).name]
        dlq_arn = sqs.create_queue(INGEST_DLQ).queue_arn
        queue_arn = sqs.create_queue(INGEST_QUEUE, **{
            "VisibilityTimeout": str(self.ingest_visibility_timeout or ingest["visibility_timeout_seconds"]),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                         "maxReceiveCount": str(ingest["max_receive_count"])})}).queue_arn
        lam.create_event_source_mapping({"EventSourceArn": queue_arn, "FunctionName": mapping["function"],
                                         "BatchSize": mapping["batch_size"],
                                         "FunctionResponseTypes": ["ReportBatchItemFailures"]})
        # Lambda's retries of the callbacks' asynchronous invocations, and the queues that get what still fails.
        for name, invoke in self.snapshot["event_invoke_configs"].items():
            config: dict[str, Any] = {"MaximumRetryAttempts": invoke["maximum_retry_attempts"],
                                      "MaximumEventAgeInSeconds": invoke["maximum_event_age_seconds"]}
            if invoke["on_failure"]:
                queue = self.binding.name(invoke["on_failure"])
                if queue not in sqs.queues:
                    sqs.create_queue(queue)
                config["DestinationConfig"] = {"OnFailure": {"Destination": self.binding.arn(invoke["on_failure"])}}
            lam.put_function_event_invoke_config(name, config)

        events = _backend("events")
        events.put_rule(UPLOAD_RULE, event_pattern=json.dumps(steps.upload_event_pattern(self.bucket, UPLOAD_PREFIX)))
        events.put_targets(UPLOAD_RULE, None, [{"Id": "ingest-queue", "Arn": queue_arn}])
        events.put_rule(TRANSCRIBE_RULE, event_pattern=json.dumps(steps.TRANSCRIBE_EVENT_PATTERN))
        callback = steps.triggered_by(steps.TRANSCRIBE_EVENTS).name
        events.put_targets(TRANSCRIBE_RULE, None, [{"Id": "callback", "Arn": function_arn(callback)}])

        events.put_rule(EXECUTION_ENDED_RULE, event_pattern=json.dumps(steps.execution_ended_pattern(
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE_NAME}")))
        release = function_arn(steps.triggered_by(steps.EXECUTION_EVENTS).name)
        events.put_targets(EXECUTION_ENDED_RULE, None, [{"Id": "release", "Arn": release}])
        events.put_rule(CAPACITY_SWEEP_RULE, scheduled_expression=f"rate({steps.CAPACITY_SWEEP_MINUTES} minutes)")
        events.put_targets(CAPACITY_SWEEP_RULE, None, [{"Id": "sweep", "Arn": release}])

        sns = _backend("sns")
        topic = sns.create_topic(TEXTRACT_TOPIC, {}, {}).arn
        sns.subscribe(topic, function_arn(steps.triggered_by(steps.TEXTRACT_TOPIC).name), "lambda")

        self._build_worker(env)

        standard = asl_path(self.root).read_text(encoding="utf-8")
        definition = resolve_definition(standard, self.substitutions)
        self.state_machine_arn = _backend("stepfunctions").create_state_machine(
            name=STATE_MACHINE_NAME, definition=definition, sm_type="STANDARD",
            roleArn=self.binding.arn(self.snapshot["state_machines"]["WorkflowStateMachine"]["role"])).arn
        # The Express workflow for images: derived from the same file, as infra/workflow.py deploys it.
        self.express_state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=EXPRESS_STATE_MACHINE_NAME, definition=resolve_definition(workflows.express_text(standard),
                                                                           self.substitutions), type="EXPRESS",
            roleArn=self.binding.arn(self.snapshot["state_machines"]["WorkflowExpressStateMachine"]["role"]),
        )["stateMachineArn"]

        from media_pipeline.backfill import REPORT_PREFIX

        backfill = resolve_definition(backfill_asl_path(self.root).read_text(encoding="utf-8"), {
            **self.backfill_settings, "BackfillItemsFunctionArn": function_arn(steps.triggered_by(steps.BACKFILL_MAP).name),
            "ReportBucket": self.bucket, "ReportPrefix": REPORT_PREFIX})
        self.backfill_state_machine_arn = self.client("stepfunctions").create_state_machine(
            name=BACKFILL_STATE_MACHINE_NAME, definition=backfill, type="STANDARD",
            roleArn=self.binding.arn(self.snapshot["state_machines"]["BackfillStateMachine"]["role"]))["stateMachineArn"]

    def _build_roles(self) -> None:
        """Every role of the template, with its trust policy (its permissions are enforced by `iam`)."""
        iam_backend = _backend("iam")
        for name, role in self.snapshot["roles"].items():
            trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                             "Principal": {"Service": role["trusted_services"]}}]}
            iam_backend.create_role(self.binding.name(name), json.dumps(trust), path=None, permissions_boundary=None,
                                    description=None, tags=[], max_session_duration=3600)

    def _build_worker(self, env: Mapping[str, str]) -> None:
        ec2 = _backend("ec2")
        vpc = ec2.create_vpc("10.0.0.0/16", "default", ipv6_cidr_block_network_border_group=REGION).id
        ec2.modify_vpc_attribute(vpc, "enable_dns_hostnames", True)  # as CDK's Vpc; moto needs it
        zone = ec2.describe_availability_zones()[0].name
        subnets = [ec2.create_subnet(vpc, f"10.0.{i}.0/24", availability_zone=zone).id for i in (1, 2)]
        group = ec2.create_security_group("media-worker", "video worker", vpc_id=vpc).id
        self.substitutions.update(MediaWorkerSubnet1=subnets[0], MediaWorkerSubnet2=subnets[1],
                                  MediaWorkerSecurityGroupId=group)
        ecs = _backend("ecs")
        cluster = ecs.create_cluster(CLUSTER).arn
        roles = self.snapshot["task_definitions"]["VideoWorkerTaskDefinition"]
        worker_env = {k: v for k, v in env.items() if k in ("JOBS_TABLE", "RESULTS_PREFIX", "AWS_REGION",
                                                             "AWS_DEFAULT_REGION", "POWERTOOLS_SERVICE_NAME",
                                                             "POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED",
                                                             "POWERTOOLS_TRACE_DISABLED")
                      or k.startswith("VIDEO_")}
        definition = ecs.register_task_definition(
            WORKER_FAMILY, [{"name": WORKER_CONTAINER, "image": "media-worker:local", "essential": True,
                             "memory": 4096,
                             "environment": [{"name": k, "value": v} for k, v in sorted(worker_env.items())]}],
            network_mode="awsvpc", requires_compatibilities=["FARGATE"], cpu="1024", memory="4096",
            task_role_arn=self.binding.arn(roles["task_role"]),
            execution_role_arn=self.binding.arn(roles["execution_role"])).arn
        self.substitutions.update(MediaWorkerClusterArn=cluster, MediaWorkerTaskDefinitionArn=definition)


def _backend(service: str) -> Any:
    """moto's backend of `service` for the emulated account (global services by partition)."""
    if service == "lambda":  # the backend moto's configuration selects, as its API does (use_docker: False)
        from moto.awslambda.utils import get_backend as lambda_backend

        return lambda_backend(ACCOUNT, REGION)
    if service == "stepfunctions":  # likewise: the engine that runs the ASL (execute_state_machine: True)
        from moto.stepfunctions.responses import get_backend as stepfunctions_backend

        return stepfunctions_backend(ACCOUNT, REGION)
    from moto.backends import get_backend

    backends = get_backend(service)[ACCOUNT]  # type: ignore[call-overload]
    return backends["aws"] if service in ("iam", "s3") else backends[REGION]


def _placeholder_code() -> str:
    """The functions' deployment package: the code that runs is the checkout's, by name (base64, as the API takes it)."""
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("README.txt", "handlers run in-process from functions/<name>/handler.py")
    return base64.b64encode(code.getvalue()).decode()
