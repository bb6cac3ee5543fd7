"""The Fargate video worker for videos too long for Lambda (`containers/media_worker`).

Networking is a trade-off between cost and isolation, chosen with `worker_networking`:

- `public` (default, cost): a VPC with public subnets only and no NAT gateway. Tasks get a public IP
  (`assignPublicIp: ENABLED`) to reach S3, ECR, Step Functions and CloudWatch Logs; the security group
  allows no inbound traffic, so nothing can connect to them. No NAT gateway means no hourly charge
  (~USD 32/month each) when no video is being processed.
- `private` (isolation): tasks run in private subnets without public IPs and reach AWS through one NAT
  gateway (plus a free S3 gateway endpoint, so media does not pass through NAT). Costs the NAT's hourly
  and per-GB charges; choose it where policy forbids public IPs on workloads.
"""
from __future__ import annotations

from pathlib import Path

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk.aws_ecr_assets import Platform
from constructs import Construct

from infra import nag
from infra.observability import Observability

REPO_ROOT = Path(__file__).resolve().parents[1]
WORKER_DOCKERFILE = "containers/media_worker/Dockerfile"
WORKER_CONTAINER_NAME = "media-worker"
HEARTBEAT_SECONDS = 60


def worker_build_context_excludes() -> list[str]:
    """The image's build context is the repository root; only what the Dockerfile copies is staged.

    The list is the Dockerfile's own `.dockerignore` (one list for Docker and for CDK's asset hash),
    plus the Dockerfile and its ignore file, which Docker needs and CDK would otherwise leave out.
    """
    ignore_file = REPO_ROOT / f"{WORKER_DOCKERFILE}.dockerignore"
    patterns = [line.strip() for line in ignore_file.read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    return [*patterns, f"!{WORKER_DOCKERFILE}", f"!{WORKER_DOCKERFILE}.dockerignore"]


class VideoWorker(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cpu: int,
        memory_mib: int,
        networking: str,
        observability: Observability,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.public = networking == "public"
        self.assign_public_ip = "ENABLED" if self.public else "DISABLED"

        if self.public:
            self.vpc = ec2.Vpc(
                self, "Vpc",
                max_azs=2,
                nat_gateways=0,
                subnet_configuration=[ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC)],
            )
            subnet_type = ec2.SubnetType.PUBLIC
        else:
            self.vpc = ec2.Vpc(
                self, "Vpc",
                max_azs=2,
                nat_gateways=1,
                subnet_configuration=[
                    ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                    ec2.SubnetConfiguration(name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                ],
                gateway_endpoints={"S3": ec2.GatewayVpcEndpointOptions(service=ec2.GatewayVpcEndpointAwsService.S3)},
            )
            subnet_type = ec2.SubnetType.PRIVATE_WITH_EGRESS
        # Rejected traffic only: with public IPs, refused inbound attempts are what is worth seeing.
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(observability.log_group(self, "FlowLogs")),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.subnets = self.vpc.select_subnets(subnet_type=subnet_type).subnets

        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup",
            vpc=self.vpc,
            description="Media worker tasks: outbound HTTPS to AWS APIs only, no inbound",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to AWS APIs")

        self.cluster = ecs.Cluster(
            self, "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.task_role = iam.Role(
            self, "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Media worker task: reads uploads, writes results, reports to Step Functions",
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.container = self.task_definition.add_container(
            "Worker",
            container_name=WORKER_CONTAINER_NAME,
            image=ecs.ContainerImage.from_asset(
                str(REPO_ROOT),
                file=WORKER_DOCKERFILE,
                exclude=worker_build_context_excludes(),
                platform=Platform.LINUX_AMD64,
            ),
            logging=ecs.LogDrivers.aws_logs(stream_prefix="worker", log_group=observability.log_group(self, "Logs")),
            environment={**environment, "HEARTBEAT_SECONDS": str(HEARTBEAT_SECONDS)},
            readonly_root_filesystem=False,
        )
        self.execution_role = self.task_definition.obtain_execution_role()
        nag.acknowledge(self.task_definition, "AwsSolutions-ECS2",
                        "The environment holds only non-secret settings (prefixes, size limit, metrics namespace); "
                        "per-item values come from the state machine's container overrides")
        nag.acknowledge(self.execution_role, "AwsSolutions-IAM5[Resource::*]",
                        "ecr:GetAuthorizationToken supports no resource-level permissions; image pulls are scoped to "
                        "the asset repository by CDK's own statement")

    def subnet_ids(self) -> list[str]:
        return [subnet.subnet_id for subnet in self.subnets]

