"""The moto gaps behind `media-pipeline backfill` (a Distributed Map): plain moto still has each gap, and
media_pipeline.local.moto_gaps.install_distributed_map closes it."""
from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from media_pipeline.local import iam, moto_gaps
from tests.local.test_moto_gaps import _credentials, client, create_function, patched, plain, until

__all__ = ["_credentials", "patched", "plain"]  # the fixtures this module uses, shared with test_moto_gaps (pyflakes)

BUCKET = "map-gaps"


def definition(**options: Any) -> str:
    """A Distributed Map over the objects under in/, in batches, each batch through the function `batch`."""
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemReader": {"Resource": "arn:aws:states:::s3:listObjectsV2",
                       "Parameters": {"Bucket.$": "$.bucket", "Prefix": "in/"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED",
                                              "ExecutionType": options.pop("execution_type", "STANDARD")},
                          "StartAt": "Batch", "States": {"Batch": {
                              "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:batch",
                              "End": True}}},
        "MaxConcurrency": 2,
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": BUCKET,
                                                                                    "Prefix": "report"}},
        "End": True, **options}
    return json.dumps({"StartAt": "Objects", "States": {"Objects": state}})


def objects(count: int) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for index in range(count):
        s3.put_object(Bucket=BUCKET, Key=f"in/{index:02d}.txt", Body=b"x" * (index + 1))


def run(text: str, role: str = "arn:aws:iam::123456789012:role/map") -> dict[str, Any]:
    sfn = client("stepfunctions")
    name = "map" if '"Objects2"' not in text else "map-2"
    machine = sfn.create_state_machine(name=name, definition=text, roleArn=role)["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=machine, name="run-1",
                                    input=json.dumps({"bucket": BUCKET}))["executionArn"]
    return until(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
        sfn.describe_execution(executionArn=execution)), timeout=30)


def report(output: str) -> dict[str, list[dict[str, Any]]]:
    s3 = client("s3")
    manifest = json.loads(s3.get_object(Bucket=BUCKET, Key=json.loads(output)["ResultWriterDetails"]["Key"])
                          ["Body"].read())
    return {status: [record for listed in files
                     for record in json.loads(s3.get_object(Bucket=BUCKET, Key=listed["Key"])["Body"].read())]
            for status, files in manifest["ResultFiles"].items()}


@pytest.mark.parametrize("option", [{"ItemBatcher": {"MaxItemsPerBatch": 3}}, {"ToleratedFailurePercentage": 10},
                                    {"execution_type": "EXPRESS"}])
def test_gap_the_parser_rejects_distributed_map_options(plain: None, option: dict[str, Any]) -> None:
    with pytest.raises(ClientError, match="ASLParserException"):
        client("stepfunctions").create_state_machine(name="map", definition=definition(**dict(option)),
                                                     roleArn="arn:aws:iam::123456789012:role/map")


def test_gap_a_failed_child_counts_as_succeeded_and_no_result_file_is_listed(plain: None) -> None:
    objects(3)
    create_function("batch")
    moto_gaps.install_lambda_runtime({"batch": lambda event, context: 1 / 0})
    execution = run(definition())
    assert execution["status"] == "SUCCEEDED"  # every child failed, and the map run succeeded
    assert all(not files for files in report(execution["output"]).values())


def pass_through(parameters: dict[str, Any] | None = None, **options: Any) -> str:
    """The map with Pass children (what each child got, or `parameters` of it, is its output), no ResultWriter."""
    document = json.loads(definition(**options))
    state = document["States"]["Objects"]
    state.pop("ResultWriter")
    state["ItemProcessor"]["States"] = {"Batch": {"Type": "Pass", "End": True,
                                                  **({"Parameters": parameters} if parameters else {})}}
    return json.dumps(document)


def test_gap_item_reader_lists_one_page_and_fails_on_an_empty_prefix(plain: None) -> None:
    objects(0)
    assert "States.Runtime" in run(pass_through()).get("error", "")  # KeyError 'Contents': nothing listed
    s3 = client("s3")
    for index in range(1001):
        s3.put_object(Bucket=BUCKET, Key=f"in/{index:04d}", Body=b"")
    execution = run(pass_through({"key.$": "$.Key"}).replace('"Objects"', '"Objects2"'))
    assert execution["status"] == "SUCCEEDED"
    assert len(json.loads(execution["output"])) == 1000  # the first page: the 1,001st object is never listed


def test_item_reader_lists_every_page_as_aws_does(patched: None) -> None:
    objects(0)
    moto_gaps.install_distributed_map()
    assert json.loads(run(pass_through())["output"]) == []
    s3 = client("s3")
    for index in range(1001):
        s3.put_object(Bucket=BUCKET, Key=f"in/{index:04d}", Body=b"")
    execution = run(pass_through(ItemBatcher={"MaxItemsPerBatch": 1000}).replace('"Objects"', '"Objects2"'))
    batches = json.loads(execution["output"])
    assert [len(batch["Items"]) for batch in batches] == [1000, 1]
    assert batches[1]["Items"][0]["Key"] == "in/1000" and set(batches[1]["Items"][0]) == {
        "Etag", "Key", "LastModified", "Size", "StorageClass"}


def test_listed_objects_take_aws_shape() -> None:
    assert moto_gaps.listed_object({"Key": "k", "ETag": '"e"', "Size": 1, "StorageClass": "STANDARD",
                                    "LastModified": __import__("datetime").datetime(2026, 1, 1, tzinfo=__import__(
                                        "datetime").timezone.utc)}) == {
        "Etag": '"e"', "Key": "k", "LastModified": 1767225600, "Size": 1, "StorageClass": "STANDARD"}


def test_batches_tolerance_and_result_files_as_aws_writes_them(patched: None) -> None:
    objects(7)
    create_function("batch")
    seen: list[dict[str, Any]] = []

    def batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        if any(item["Key"] == "in/03.txt" for item in event["Items"]):
            raise ValueError("this batch fails")
        return {"keys": [item["Key"] for item in event["Items"]], "run": event["BatchInput"]["run"]}

    moto_gaps.install_lambda_runtime({"batch": batch})
    moto_gaps.install_distributed_map()
    batcher = {"MaxItemsPerBatch": 3, "BatchInput": {"run.$": "$$.Execution.Name", "bucket.$": "$.bucket"}}
    execution = run(definition(ItemBatcher=batcher, ToleratedFailurePercentage=50, execution_type="EXPRESS"))
    assert execution["status"] == "SUCCEEDED", execution
    assert sorted(len(event["Items"]) for event in seen) == [1, 3, 3]
    first = sorted(seen, key=lambda event: event["Items"][0]["Key"])[0]
    assert first["BatchInput"] == {"run": "run-1", "bucket": BUCKET}
    assert first["Items"][0]["Key"] == "in/00.txt" and first["Items"][0]["Size"] == 1
    assert first["Items"][0]["Etag"].startswith('"') and isinstance(first["Items"][0]["LastModified"], int)
    files = report(execution["output"])
    assert sorted(json.loads(record["Output"])["keys"] for record in files["SUCCEEDED"]) == \
        [["in/00.txt", "in/01.txt", "in/02.txt"], ["in/06.txt"]]
    [failed] = files["FAILED"]
    assert failed["Error"] == "ValueError" and "this batch fails" in failed["Cause"]
    assert [item["Key"] for item in json.loads(failed["Input"])["Items"]] == ["in/03.txt", "in/04.txt", "in/05.txt"]
    assert ":express:map/" in failed["ExecutionArn"] and failed["Status"] == "FAILED"


def test_failures_past_the_tolerance_fail_the_map_run(patched: None) -> None:
    objects(7)
    create_function("batch")

    def batch(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if any(item["Key"] == "in/03.txt" for item in event["Items"]):
            raise ValueError("this batch fails")
        return {}

    moto_gaps.install_lambda_runtime({"batch": batch})
    moto_gaps.install_distributed_map()
    execution = run(definition(ItemBatcher={"MaxItemsPerBatch": 3}, ToleratedFailurePercentage=40))
    assert execution["status"] == "FAILED"  # 3 of 7 items (43 %) failed
    assert execution["error"] == "States.ExceedToleratedFailureThreshold"
    assert "3 of 7 items failed" in execution["cause"]


def test_child_executions_need_the_roles_start_describe_and_stop(patched: None) -> None:
    objects(2)
    create_function("batch")
    moto_gaps.install_lambda_runtime({"batch": lambda event, context: {}})
    moto_gaps.install_distributed_map()
    role = "arn:aws:iam::123456789012:role/map"
    allow_rest = [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject", "lambda:InvokeFunction"],
                   "Resource": "*"}]
    iam.register({role: iam.Principal(arn=role, statements=allow_rest, trusted_services=["states.amazonaws.com"])})
    iam.install()
    moto_gaps.install_principals()
    try:
        with iam.denials_expected():
            execution = run(definition(ItemBatcher={"MaxItemsPerBatch": 3}), role)
        assert execution["status"] == "FAILED" and "states:StartExecution" in execution["cause"]
        iam.register({role: iam.Principal(arn=role, trusted_services=["states.amazonaws.com"], statements=[
            *allow_rest, {"Effect": "Allow", "Action": "states:StartExecution",
                          "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:map2"},
            {"Effect": "Allow", "Action": ["states:DescribeExecution", "states:StopExecution"],
             "Resource": "arn:aws:states:us-east-1:123456789012:execution:map2/*"}])})
        sfn = client("stepfunctions")
        machine = sfn.create_state_machine(name="map2", definition=definition(ItemBatcher={"MaxItemsPerBatch": 3}),
                                           roleArn=role)["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, name="run-2", input=json.dumps({"bucket": BUCKET}))[
            "executionArn"]
        done = until(lambda: (lambda d: d if d["status"] != "RUNNING" else None)(
            sfn.describe_execution(executionArn=arn)), timeout=30)
        assert done["status"] == "SUCCEEDED", done
    finally:
        iam.uninstall()


def test_gap_child_executions_need_no_permission(plain: None) -> None:
    objects(2)
    role = "arn:aws:iam::123456789012:role/map"
    iam.register({role: iam.Principal(arn=role, trusted_services=["states.amazonaws.com"], statements=[
        {"Effect": "Allow", "Action": ["s3:ListBucket"], "Resource": "*"}])})  # no states:StartExecution
    iam.install()
    moto_gaps.install_principals()
    try:
        execution = run(pass_through({"key.$": "$.Key"}), role)
        assert execution["status"] == "SUCCEEDED"  # in AWS: the map run fails, the role may not start the children
    finally:
        iam.uninstall()
        moto_gaps.uninstall()
