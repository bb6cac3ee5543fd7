import aws_cdk as cdk
from aws_cdk.assertions import Template

from infra.observability import Observability
from infra.video import WORKER_CONTAINER_NAME, VideoWorker


def test_task_definition_size_roles_and_container(synth):
    settings = synth.stack.settings
    worker = synth.stack.video_worker
    _, task = synth.one("AWS::ECS::TaskDefinition")
    props = task["Properties"]
    assert props["Cpu"] == str(settings.worker_cpu)
    assert props["Memory"] == str(settings.worker_memory_mib)
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert props["NetworkMode"] == "awsvpc"
    assert props["TaskRoleArn"] == {"Fn::GetAtt": [synth.stack.get_logical_id(worker.task_role.node.default_child), "Arn"]}
    assert props["ExecutionRoleArn"] == {
        "Fn::GetAtt": [synth.stack.get_logical_id(worker.execution_role.node.default_child), "Arn"]}
    (container,) = props["ContainerDefinitions"]
    assert container["Name"] == WORKER_CONTAINER_NAME
    assert container["LogConfiguration"]["LogDriver"] == "awslogs"
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert env["RESULTS_PREFIX"] == "results/"


def test_task_role_reads_uploads_writes_results_and_answers_the_task_token(synth):
    role_id = synth.stack.get_logical_id(synth.stack.video_worker.task_role.node.default_child)
    statements = [s for p in synth.resources("AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]
                  for s in p["Properties"]["PolicyDocument"]["Statement"]]
    by_prefix = {}
    for statement in statements:
        text = str(statement["Resource"])
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        key = "uploads" if "/uploads/*" in text else "results" if "/results/*" in text else "states"
        by_prefix.setdefault(key, set()).update(actions)
    assert by_prefix["uploads"] == {"s3:GetObject", "s3:GetObjectVersion"}
    assert by_prefix["results"] == {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert by_prefix["states"] == {"states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"}


def test_cluster_has_container_insights(synth):
    _, cluster = synth.one("AWS::ECS::Cluster")
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["Properties"]["ClusterSettings"]


def test_default_networking_is_public_subnets_without_nat_and_no_inbound(synth):
    assert not synth.resources("AWS::EC2::NatGateway")
    subnets = synth.resources("AWS::EC2::Subnet").values()
    assert len(subnets) == 2 and all(s["Properties"]["MapPublicIpOnLaunch"] for s in subnets)
    groups = [g for g in synth.resources("AWS::EC2::SecurityGroup").values()
              if "Media worker" in g["Properties"]["GroupDescription"]]
    assert len(groups) == 1
    assert "SecurityGroupIngress" not in groups[0]["Properties"]
    assert [rule["FromPort"] for rule in groups[0]["Properties"]["SecurityGroupEgress"]] == [443]
    assert synth.stack.video_worker.assign_public_ip == "ENABLED"
    assert synth.resources("AWS::EC2::FlowLog")


def test_private_networking_uses_a_nat_gateway_and_no_public_ip():
    stack = cdk.Stack(cdk.App(), "WorkerOnly")
    worker = VideoWorker(stack, "Worker", cpu=1024, memory_mib=2048, networking="private",
                         observability=Observability(stack, "Observability", log_retention_days=7), environment={})
    template = Template.from_stack(stack).to_json()
    assert worker.assign_public_ip == "DISABLED"
    assert len([r for r in template["Resources"].values() if r["Type"] == "AWS::EC2::NatGateway"]) == 1
    private = [stack.resolve(subnet.subnet_id) for subnet in worker.subnets]
    assert all(template["Resources"][ref["Ref"]]["Properties"]["MapPublicIpOnLaunch"] is False for ref in private)


def test_worker_image_context_holds_only_what_the_dockerfile_copies(synth):
    assets = __import__("json").loads((synth.outdir / f"{synth.stack.artifact_id}.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == "containers/media_worker/Dockerfile"
    context = synth.outdir / image["source"]["directory"]
    assert (context / "containers/media_worker/Dockerfile").is_file()
    assert (context / "containers/media_worker/worker.py").is_file()
    assert (context / "media_pipeline/video.py").is_file()
    assert not (context / "media_pipeline/local").exists()
    for absent in (".venv", "tests", "functions", "cdk.out", ".git", "samples"):
        assert not (context / absent).exists(), absent
