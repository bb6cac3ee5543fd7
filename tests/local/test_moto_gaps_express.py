"""Express workflows on the emulator: plain moto runs them as Standard ones; install_express_executions makes the
emulator refuse what AWS refuses for them (media_pipeline/local/moto_gaps.py)."""
from __future__ import annotations

import json
from datetime import datetime
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from media_pipeline.local import moto_gaps
from tests.local.test_moto_gaps import _credentials, plain
from tests.waiting import until

__all__ = ["_credentials", "plain"]  # the fixtures this module shares with test_moto_gaps (pyflakes)

REGION = "us-east-1"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "Result": {"ok": True}, "End": True}}})


@pytest.fixture
def patched() -> Any:
    moto_gaps.uninstall()
    with mock_aws(config=moto_gaps.MOTO_CONFIG):
        moto_gaps.install_execution_events()
        moto_gaps.install_express_executions()
        yield
        moto_gaps.wait_for_background_work(30)
    moto_gaps.uninstall()


def state_machine(kind: str) -> str:
    role = boto3.client("iam", region_name=REGION).create_role(
        RoleName=f"sfn-{kind.lower()}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    return boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name=f"machine-{kind.lower()}", definition=DEFINITION, roleArn=role, type=kind)["stateMachineArn"]


def status_change_events() -> list[dict[str, Any]]:
    """A queue behind a rule on Step Functions' "Execution Status Change" events."""
    sqs, events = boto3.client("sqs", region_name=REGION), boto3.client("events", region_name=REGION)
    queue = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="status", EventPattern=json.dumps({"source": ["aws.states"]}))
    events.put_targets(Rule="status", Targets=[{"Id": "queue", "Arn": arn}])

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]
    return received  # type: ignore[return-value]


def test_gap_express_runs_as_standard(plain: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    machine = state_machine("EXPRESS")
    started = sfn.start_execution(stateMachineArn=machine, name="item-1")
    assert ":execution:" in started["executionArn"]  # AWS: arn:...:express:<machine>:<name>:<id>
    assert sfn.describe_execution(executionArn=started["executionArn"])["name"] == "item-1"  # AWS: InvalidArn
    with pytest.raises(ClientError, match="ExecutionAlreadyExists"):  # AWS: a second execution starts
        sfn.start_execution(stateMachineArn=machine, name="item-1", input='{"other": 1}')


def test_express_executions_are_refused_what_aws_refuses(patched: None) -> None:
    sfn = boto3.client("stepfunctions", region_name=REGION)
    received = status_change_events()
    express, standard = state_machine("EXPRESS"), state_machine("STANDARD")
    first = sfn.start_execution(stateMachineArn=express, name="item-1")["executionArn"]
    second = sfn.start_execution(stateMachineArn=express, name="item-1", input='{"other": 1}')["executionArn"]
    assert first != second  # no idempotency by name: two executions
    assert first.startswith("arn:aws:states:us-east-1:123456789012:express:machine-express:item-1:")
    for call in (lambda: sfn.describe_execution(executionArn=first),
                 lambda: sfn.get_execution_history(executionArn=first),
                 lambda: sfn.stop_execution(executionArn=first)):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "InvalidArn"
        assert "Resource type not valid in this context: express" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as listing:
        sfn.list_executions(stateMachineArn=express)
    assert listing.value.response["Error"]["Code"] == "StateMachineTypeNotSupported"

    # Standard executions keep every call, and only they send status change events.
    done = sfn.start_execution(stateMachineArn=standard, name="item-1")["executionArn"]
    until(lambda: sfn.describe_execution(executionArn=done)["status"] == "SUCCEEDED", what="the Standard execution")
    assert [e["name"] for e in sfn.list_executions(stateMachineArn=standard)["executions"]] == ["item-1"]
    for express_execution in (first, second):
        until(lambda: moto_gaps.express_execution_log(express_execution)[0] == "SUCCEEDED", timeout=60,
              what="the Express execution")
    seen: list[dict[str, Any]] = []
    until(lambda: seen.extend(received()) or seen, timeout=60, what="the Standard execution's event")
    time.sleep(1.0)  # anything else the executions' ends put on the bus has arrived by now
    seen.extend(received())
    assert [e["detail"]["executionArn"] for e in seen] == [done], seen

    # What the Express log group holds: the execution's events.
    status, events = moto_gaps.express_execution_log(first)
    assert status == "SUCCEEDED"
    assert [e["type"] for e in events] == ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                                           "ExecutionSucceeded"]
    assert all(isinstance(e["timestamp"], datetime) for e in events)
