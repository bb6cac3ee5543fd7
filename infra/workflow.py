"""The Standard state machine, loaded from `statemachines/media_pipeline.asl.json` with definition
substitutions. The function names come from the step registry (media_pipeline/steps.py), which the local mode
reads too; a test keeps the registry, the function folders and the ASL in step."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import nag
from infra.observability import Observability
from infra.video import VideoWorker
from media_pipeline import steps, workflows

DEFINITION_FILE = Path(__file__).resolve().parents[1] / "statemachines" / "media_pipeline.asl.json"

# `${Name}` in the ASL file -> the function (folder under functions/) whose ARN replaces it: every step the
# state machine invokes (media_pipeline/steps.py).
FUNCTION_SUBSTITUTIONS: dict[str, str] = {step.substitution: step.name for step in steps.invoked_by_state_machine()}
# The Fargate worker's run-task parameters (lists cannot be substituted, hence two subnet names).
WORKER_SUBSTITUTIONS: tuple[str, ...] = (
    "MediaWorkerClusterArn",
    "MediaWorkerTaskDefinitionArn",
    "MediaWorkerContainerName",
    "MediaWorkerSubnet1",
    "MediaWorkerSubnet2",
    "MediaWorkerSecurityGroupId",
    "MediaWorkerAssignPublicIp",
)
SUBSTITUTION_NAMES: tuple[str, ...] = (*FUNCTION_SUBSTITUTIONS, *WORKER_SUBSTITUTIONS)


def worker_substitutions(worker: VideoWorker) -> dict[str, str]:
    subnets = worker.subnet_ids()
    return {
        "MediaWorkerClusterArn": worker.cluster.cluster_arn,
        "MediaWorkerTaskDefinitionArn": worker.task_definition.task_definition_arn,
        "MediaWorkerContainerName": worker.container.container_name,
        "MediaWorkerSubnet1": subnets[0],
        "MediaWorkerSubnet2": subnets[1] if len(subnets) > 1 else subnets[0],
        "MediaWorkerSecurityGroupId": worker.security_group.security_group_id,
        "MediaWorkerAssignPublicIp": worker.assign_public_ip,
    }


class Workflow(Construct):
    """One execution per item: Standard, or Express for the images Textract reads synchronously
    (media_pipeline/workflows.py derives that definition from the same file). Both log at level ALL to an
    encrypted log group, with X-Ray tracing."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        functions: Mapping[str, lambda_.IFunction],
        worker: VideoWorker,
        observability: Observability,
        definition_file: Path = DEFINITION_FILE,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        substitutions = {
            **{name: functions[function].function_arn for name, function in FUNCTION_SUBSTITUTIONS.items()},
            **worker_substitutions(worker),
        }
        # The /aws/vendedlogs/ prefix keeps CloudWatch Logs' resource policy from growing per log group.
        self.log_group = observability.log_group(
            self, "Logs", name=f"/aws/vendedlogs/states/{stack.stack_name}-media-pipeline")
        # The file itself becomes an asset (DefinitionS3Location): what is deployed is byte for byte the file the
        # local mode and the workflow tests run.
        self.state_machine = self._state_machine(
            "StateMachine", "Media pipeline: one execution per uploaded item",
            sfn.DefinitionBody.from_file(str(definition_file)), substitutions, sfn.StateMachineType.STANDARD,
            self.log_group, functions, FUNCTION_SUBSTITUTIONS.values())
        # ecs:runTask.waitForTaskToken needs RunTask and PassRole only (no managed rule, unlike .sync).
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["ecs:RunTask"],
            resources=[worker.task_definition.task_definition_arn],
            conditions={"ArnEquals": {"ecs:cluster": worker.cluster.cluster_arn}},
        ))
        self.state_machine.add_to_role_policy(iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[worker.task_role.role_arn, worker.execution_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        ))

        # The Express workflow: no history in Step Functions, so its log (level ALL, with the data) is where an
        # execution is read afterwards (docs/cost.md, "Express for images").
        express_text = workflows.express_text(definition_file.read_text(encoding="utf-8"))
        express_functions = sorted({FUNCTION_SUBSTITUTIONS[name] for name in FUNCTION_SUBSTITUTIONS
                                    if "${" + name + "}" in express_text})
        self.express_log_group = observability.log_group(
            self, "ExpressLogs", name=f"/aws/vendedlogs/states/{stack.stack_name}-media-pipeline-express")
        self.express_state_machine = self._state_machine(
            "ExpressStateMachine", "Media pipeline, images read synchronously: one Express execution per item",
            sfn.DefinitionBody.from_string(express_text),
            {name: value for name, value in substitutions.items() if "${" + name + "}" in express_text},
            sfn.StateMachineType.EXPRESS, self.express_log_group, functions, express_functions)

    def _state_machine(self, construct_id: str, comment: str, body: sfn.DefinitionBody,
                       substitutions: dict[str, str], kind: sfn.StateMachineType, log_group: logs.ILogGroup,
                       functions: Mapping[str, lambda_.IFunction], invoked: Iterable[str]) -> sfn.StateMachine:
        """A state machine logging everything (with the data) to its own group, traced, allowed to invoke `invoked`
        only (the ASL calls the unqualified function ARNs: no version or alias wildcard is needed)."""
        machine = sfn.StateMachine(
            self, construct_id, comment=comment, definition_body=body, definition_substitutions=substitutions,
            state_machine_type=kind,
            logs=sfn.LogOptions(destination=log_group, level=sfn.LogLevel.ALL, include_execution_data=True),
            tracing_enabled=True,
        )
        nag.acknowledge(machine.role, "AwsSolutions-IAM5[Resource::*]",
                        "CloudWatch Logs delivery actions (logs:CreateLogDelivery, ...) that Step Functions logging "
                        f"needs support no resource-level permissions; {nag.XRAY_REASON}")
        machine.add_to_role_policy(iam.PolicyStatement(
            actions=["lambda:InvokeFunction"],
            resources=sorted({functions[function].function_arn for function in invoked}),
        ))
        return machine

    def grant_start_executions(self, grantee: iam.IGrantable) -> None:
        """StartExecution on both state machines (ingest starts each item in one of them)."""
        self.state_machine.grant_start_execution(grantee)
        self.express_state_machine.grant_start_execution(grantee)

    def grant_describe_executions(self, grantee: iam.IGrantable) -> None:
        """DescribeExecution on this state machine's executions only (`execution:<name>:*`)."""
        executions = Stack.of(self).format_arn(service="states", resource="execution",
                                               resource_name=f"{self.state_machine.state_machine_name}:*",
                                               arn_format=ArnFormat.COLON_RESOURCE_NAME)
        grantee.grant_principal.add_to_principal_policy(iam.PolicyStatement(
            actions=["states:DescribeExecution"], resources=[executions]))
        role = grantee if isinstance(grantee, iam.Role) else getattr(grantee, "role", None)
        if role is not None:
            nag.acknowledge(role, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, executions)}]",
                            "Executions are named by media id at run time; the grant is this state machine's "
                            "executions only")
    def grant_read_execution_history(self, role: iam.IRole, construct_id: str) -> iam.Policy:
        """GetExecutionHistory on this state machine's executions (finalize counts an item's transitions).

        A separate policy for the same reason as grant_task_response: the execution ARN names the state machine."""
        stack = Stack.of(self)
        executions = (f"arn:{stack.partition}:states:{stack.region}:{stack.account}:execution:"
                      f"{self.state_machine.state_machine_name}:*")
        policy = iam.Policy(self, construct_id, roles=[role], statements=[iam.PolicyStatement(
            actions=["states:GetExecutionHistory"], resources=[executions])])
        nag.acknowledge(policy, f"AwsSolutions-IAM5[Resource::{nag.finding_resource(self, executions)}]",
                        "the executions of this one state machine: an execution's name (the media id) is only known "
                        "at run time")
        return policy

    def grant_task_response(self, role: iam.IRole, construct_id: str, *, heartbeat: bool = False) -> iam.Policy:
        """SendTaskSuccess/Failure for a step that resumes a waiting execution (a Lambda or the worker), and
        SendTaskHeartbeat for one that also reports progress (the worker).

        A separate policy, not the role's default one: the functions' default policies are dependencies
        of the functions, whose ARNs the state machine's definition needs (a cycle otherwise)."""
        actions = ["states:SendTaskFailure", "states:SendTaskSuccess"]
        return iam.Policy(
            self, construct_id,
            roles=[role],
            statements=[iam.PolicyStatement(
                actions=[*actions, "states:SendTaskHeartbeat"] if heartbeat else actions,
                resources=[self.state_machine.state_machine_arn],
            )],
        )
