"""moto's own per-call costs and what `install_speedups` and `install_direct_requests` do about them
(media_pipeline/local/moto_gaps.py, "Speed"): each gap test shows that plain moto still has the cost, so an upgrade
that removes it is noticed; the others show that the answers are the same with the speed-up."""
from __future__ import annotations

import inspect
import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from media_pipeline.local import moto_gaps
from tests.local.test_moto_gaps import _credentials, client, create_function, plain, run_execution
from tests.waiting import until

__all__ = ["_credentials", "plain"]  # the fixtures this module shares with test_moto_gaps (pyflakes)

REGION = "us-east-1"


@pytest.fixture
def fast() -> Any:
    moto_gaps.uninstall()
    with mock_aws(config=moto_gaps.MOTO_CONFIG):
        moto_gaps.install_speedups()
        yield
        moto_gaps.wait_for_background_work(30)
    moto_gaps.uninstall()


# ---- Step Functions: a client per invocation, a parse per execution --------------------------------------------------

def test_gap_step_functions_builds_a_client_for_every_call(plain: None) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    first = lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None)
    assert lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None) is not first


def test_one_client_per_service_and_region_is_kept(fast: None) -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    first = lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None)
    assert lambda_eval_utils.boto_client_for(region=REGION, service="lambda", state_credentials=None) is first
    assert lambda_eval_utils.boto_client_for(region="eu-west-1", service="lambda", state_credentials=None) is not first


def counted_parses() -> list[str]:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parses: list[str] = []
    parse = AmazonStateLanguageParser.parse

    def counting(definition: str) -> Any:
        parses.append(definition)
        return parse(definition)

    AmazonStateLanguageParser.parse = staticmethod(counting)  # type: ignore[method-assign]
    return parses


RETRYING = {"StartAt": "Flaky", "States": {
    "Flaky": {"Type": "Task", "Resource": "FLAKY", "ResultPath": "$.result",
              "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "BackoffRate": 1, "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "GaveUp"}], "End": True},
    "GaveUp": {"Type": "Pass", "End": True}}}


def run_twice_at_once(flaky_arn: str) -> list[dict[str, Any]]:
    """Two executions of one definition side by side; each fails its first attempt, the second attempt of item 1
    succeeds and of item 2 fails again: each execution's retry count is its own."""
    definition = json.loads(json.dumps(RETRYING).replace("FLAKY", flaky_arn))
    sfn = client("stepfunctions")
    machine = sfn.create_state_machine(name=f"m{time.monotonic_ns()}", definition=json.dumps(definition),
                                       roleArn="arn:aws:iam::123456789012:role/sfn")["stateMachineArn"]
    arns = [sfn.start_execution(stateMachineArn=machine, name=f"item-{n}", input=json.dumps({"item": n}))["executionArn"]
            for n in (1, 2)]
    return [until(lambda arn=arn: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, 30)
            for arn in arns]


def flaky_function() -> str:
    attempts: dict[int, int] = {}
    lock = threading.Lock()

    def flaky(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with lock:
            attempts[event["item"]] = attempts.get(event["item"], 0) + 1
            attempt = attempts[event["item"]]
        time.sleep(0.2)  # the two executions overlap
        if attempt == 1 or event["item"] == 2:
            raise RuntimeError(f"attempt {attempt}")
        return {"attempt": attempt}

    arn = create_function("flaky")
    moto_gaps.install_lambda_runtime({"flaky": flaky})
    return arn


def test_gap_every_execution_parses_the_definition(plain: None) -> None:
    arn = flaky_function()
    parses = counted_parses()
    run_twice_at_once(arn)
    assert len(parses) >= 3  # once when the state machine is created, then once for each execution


def test_a_definition_is_parsed_once_and_executions_keep_their_own_retry_counts(fast: None) -> None:
    arn = flaky_function()
    parses = counted_parses()
    first, second = run_twice_at_once(arn)
    assert len(parses) == 2  # the creation's check, then the first execution; the second reuses the program
    assert first["status"] == "SUCCEEDED" and json.loads(first["output"])["result"] == {"attempt": 2}
    output = json.loads(second["output"])
    assert second["status"] == "SUCCEEDED" and output["error"]["Error"] == "RuntimeError"
    assert "attempt 2" in output["error"]["Cause"]


# ---- GetExecutionHistory: moto's model-driven serializer --------------------------------------------------------------

def test_history_is_what_motos_serializer_writes(fast: None) -> None:
    broken = create_function("broken")

    def fails(event: dict[str, Any], context: Any) -> None:
        raise ValueError("the input is wrong")

    moto_gaps.install_lambda_runtime({"broken": fails})
    execution = run_execution({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "ResultPath": "$.mapped",
                 "Iterator": {"StartAt": "Double", "States": {"Double": {"Type": "Pass", "End": True}}},
                 "Next": "Broken"},
        "Broken": {"Type": "Task", "Resource": broken,
                   "Retry": [{"ErrorEquals": ["ValueError"], "IntervalSeconds": 1, "MaxAttempts": 1}],
                   "Next": "Done"},
        "Done": {"Type": "Succeed"}}}, {"items": [1, 2, 3]})
    assert execution["status"] == "FAILED"
    sfn = client("stepfunctions")
    fast_events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    moto_gaps.uninstall()  # moto's own serializer, same execution
    moto_events = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
    assert fast_events == moto_events
    kinds = {event["type"] for event in moto_events}
    assert {"MapIterationStarted", "LambdaFunctionFailed", "ExecutionFailed"} <= kinds


# ---- the server's routing ----------------------------------------------------------------------------------------------

def test_gap_the_server_lists_motos_package_folder_for_every_request(plain: None) -> None:
    import moto.backends

    assert inspect.isgeneratorfunction(moto.backends.list_of_moto_modules)


def test_motos_services_are_listed_once(fast: None) -> None:
    import moto.backends

    listed = moto.backends.list_of_moto_modules()
    assert "s3" in listed and "stepfunctions" in listed and moto.backends.list_of_moto_modules() is listed


# ---- waiting for a table write ---------------------------------------------------------------------------------------

def test_a_table_write_wakes_whoever_waits_for_its_item(fast: None) -> None:
    dynamodb = client("dynamodb")
    dynamodb.create_table(TableName="jobs", BillingMode="PAY_PER_REQUEST",
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                     {"AttributeName": "sk", "KeyType": "RANGE"}])
    before = moto_gaps.change_sequence()
    started = time.monotonic()
    assert moto_gaps.wait_for_change(before, key="MEDIA#a", timeout=0.2) == before  # nothing written: the timeout
    assert time.monotonic() - started >= 0.2

    def write_later() -> None:
        time.sleep(0.3)
        dynamodb.put_item(TableName="jobs", Item={"pk": {"S": "MEDIA#b"}, "sk": {"S": "JOB"}})  # another item
        time.sleep(0.3)
        dynamodb.update_item(TableName="jobs", Key={"pk": {"S": "MEDIA#a"}, "sk": {"S": "JOB"}},
                             UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                             ExpressionAttributeValues={":s": {"S": "SUCCEEDED"}})

    writer = threading.Thread(target=write_later)
    started = time.monotonic()
    writer.start()
    after = moto_gaps.wait_for_change(before, key="MEDIA#a", timeout=10)
    waited = time.monotonic() - started
    writer.join()
    assert after == before + 2 and 0.5 <= waited < 5  # woken by MEDIA#a's write, not by MEDIA#b's
    assert moto_gaps.wait_for_change(before, timeout=0) == after  # any key: already written


# ---- requests from the emulator's own process --------------------------------------------------------------------------

KEY = "uploads/a b+c/ü%20 d.txt"


def exchange(endpoint: str) -> dict[str, Any]:
    """What a set of requests answers: S3 with an awkward key, metadata with an underscore, HEAD, a missing key,
    a listing; DynamoDB; an error from a JSON protocol."""
    session = boto3.session.Session()
    s3 = session.client("s3", region_name=REGION, endpoint_url=endpoint)
    dynamodb = session.client("dynamodb", region_name=REGION, endpoint_url=endpoint)
    s3.create_bucket(Bucket="direct")
    put = s3.put_object(Bucket="direct", Key=KEY, Body=b"x" * 70_000, Metadata={"media_id": "1", "kind": "text"})
    got = s3.get_object(Bucket="direct", Key=KEY)
    head = s3.head_object(Bucket="direct", Key=KEY)
    with pytest.raises(ClientError) as missing:
        s3.get_object(Bucket="direct", Key="uploads/none")
    with pytest.raises(ClientError) as missing_head:
        s3.head_object(Bucket="direct", Key="uploads/none")
    listed = s3.list_objects_v2(Bucket="direct", Prefix="uploads/a b+c/")["Contents"]
    with pytest.raises(ClientError) as no_table:
        dynamodb.get_item(TableName="none", Key={"pk": {"S": "x"}})
    s3.delete_object(Bucket="direct", Key=KEY)
    s3.delete_bucket(Bucket="direct")
    return {"etag": put["ETag"], "body": got["Body"].read(), "metadata": got["Metadata"],
            "length": head["ContentLength"], "type": head["ContentType"],
            "missing": (missing.value.response["Error"]["Code"], missing.value.response["ResponseMetadata"]["HTTPStatusCode"]),
            "missing_head": missing_head.value.response["ResponseMetadata"]["HTTPStatusCode"],
            "listed": [entry["Key"] for entry in listed], "no_table": no_table.value.response["Error"]["Code"]}


def test_requests_from_the_emulators_process_skip_the_socket_with_the_same_answers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    moto_gaps.uninstall()
    server = moto_gaps.start_server()
    try:
        over_http = exchange(server.endpoint_url)
        connections: list[Any] = []
        werkzeug_server = server.server._server
        serve = werkzeug_server.process_request
        monkeypatch.setattr(werkzeug_server, "process_request", lambda *a: (connections.append(a), serve(*a)))
        moto_gaps.install_direct_requests(server)
        direct = exchange(server.endpoint_url)
        port = server.endpoint_url.rsplit(":", 1)[1]  # moto's Step Functions engine calls localhost:$MOTO_PORT
        assert exchange(f"http://localhost:{port}") == over_http
    finally:
        moto_gaps.uninstall()
        server.stop()
    assert direct == over_http
    assert direct["body"] == b"x" * 70_000 and direct["metadata"] == {"media_id": "1", "kind": "text"}
    assert direct["listed"] == [KEY] and direct["missing"] == ("NoSuchKey", 404) and direct["missing_head"] == 404
    assert connections == []  # no request reached the server's socket


# ---- botocore: a ServiceModel and a client class for every client ----------------------------------------------------

def _two_clients(session: Any, service: str) -> tuple[Any, Any]:
    return (session.client(service, region_name=REGION), session.client(service, region_name="eu-west-1"))


def test_gap_botocore_builds_a_model_and_a_class_for_every_client(plain: None) -> None:
    first, second = _two_clients(boto3.session.Session(), "s3")
    assert type(first) is not type(second)
    assert first.meta.service_model is not second.meta.service_model


def test_clients_of_one_session_share_the_model_and_the_class_and_keep_their_own_state(fast: None) -> None:
    session = boto3.session.Session()
    first, second = _two_clients(session, "s3")
    assert type(first) is type(second) and first.meta.service_model is second.meta.service_model
    assert first.meta.region_name == REGION and second.meta.region_name == "eu-west-1"
    assert first.meta.events is not second.meta.events  # hooks, retry state and endpoint stay per client
    assert hasattr(first, "generate_presigned_post")  # boto3's class customisations are kept
    other = boto3.session.Session().client("s3", region_name=REGION)
    assert type(other) is not type(first)  # another session: its own (its handlers may differ)
    table = session.client("dynamodb", region_name=REGION)
    assert type(table) is not type(first) and table.meta.service_model.service_name == "dynamodb"
    first.create_bucket(Bucket="shared-models")
    second.put_object(Bucket="shared-models", Key="a.txt", Body=b"one")
    assert first.get_object(Bucket="shared-models", Key="a.txt")["Body"].read() == b"one"
    with pytest.raises(ClientError) as missing:
        second.get_object(Bucket="shared-models", Key="absent.txt")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"
