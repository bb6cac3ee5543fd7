"""The jobs table: one record per media item, and the task tokens that callbacks resume."""
from __future__ import annotations

import re
import time
from typing import Any

from media_pipeline.aws import client
from media_pipeline.settings import settings


# The jobs table's index of job records by owner (the `sub` of the web user whose folder the upload is in),
# newest first: the web API lists a user's items with it. Records without an owner are not in it.
OWNER_INDEX = "by-owner"
# A Cognito `sub` (a UUID): the first folder of an upload key under the upload prefix names the item's owner.
OWNER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def owner_of(key: str, upload_prefix: str) -> str | None:
    """`uploads/<sub>/<file>` -> sub: the folder a web user's presigned POST is fixed to. None for keys outside a
    user's folder (uploaded with S3 access, not through the web API)."""
    if not key.startswith(upload_prefix):
        return None
    folder, sep, rest = key[len(upload_prefix):].partition("/")
    return folder if sep and rest and OWNER.fullmatch(folder) else None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _job_key(media_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"MEDIA#{media_id}"}, "sk": {"S": "JOB"}}


def execution_arn(state_machine_arn: str, media_id: str) -> str:
    """The item's execution: ingest names it after the media id."""
    return state_machine_arn.replace(":stateMachine:", ":execution:") + f":{media_id}"


def get_job(media_id: str) -> dict[str, Any] | None:
    """The job record's attributes as strings (None when there is no record)."""
    item = client("dynamodb").get_item(TableName=settings().jobs_table, Key=_job_key(media_id),
                                       ConsistentRead=True).get("Item")
    return {name: next(iter(value.values())) for name, value in item.items()} if item else None


def job_key(media_id: str) -> dict[str, Any]:
    """The key of an item's job record."""
    return _job_key(media_id)


def create_job(media_id: str, *, bucket: str, key: str, version: str, media_type: str, status: str = "RUNNING",
               error_code: str | None = None, owner: str | None = None, workflow: str = "standard") -> bool:
    """Record a new job; False when this media id was already recorded (a duplicate delivery). `owner`: the web
    user whose folder the upload is in (media_pipeline/web_api.py `owner_of`). An Express execution's ARN is only
    known once it started (`record_execution`); a Standard one's is its name's."""
    now = _now()
    item: dict[str, Any] = {
        **_job_key(media_id),
        "media_id": {"S": media_id},
        "status": {"S": status},
        "bucket": {"S": bucket},
        "key": {"S": key},
        "version": {"S": version or ""},
        "media_type": {"S": media_type},
        "execution_name": {"S": media_id},
        **({"execution_arn": {"S": execution_arn(settings().state_machine_arn, media_id)}}
           if settings().state_machine_arn and workflow == "standard" else {}),
        **({"workflow": {"S": workflow}} if workflow != "standard" else {}),
        "created_at": {"S": now},
        "updated_at": {"S": now},
    }
    if error_code:
        item["error_code"] = {"S": error_code}
    if owner:
        item["owner"] = {"S": owner}
    ddb = client("dynamodb")
    try:
        ddb.put_item(TableName=settings().jobs_table, Item=item, ConditionExpression="attribute_not_exists(pk)")
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


def record_execution(media_id: str, execution_arn_: str, started_at: str) -> None:
    """The Express execution ingest started for the item (its ARN ends in an id Step Functions chose)."""
    ddb = client("dynamodb")
    try:
        ddb.update_item(TableName=settings().jobs_table, Key=_job_key(media_id),
                        UpdateExpression="SET #a = :a, #t = :t", ConditionExpression="attribute_exists(pk)",
                        ExpressionAttributeNames={"#a": "execution_arn", "#t": "started_at"},
                        ExpressionAttributeValues={":a": {"S": execution_arn_}, ":t": {"S": started_at}})
    except ddb.exceptions.ConditionalCheckFailedException:  # the item was deleted meanwhile: nothing to record
        pass


def finish_job(media_id: str, *, status: str, manifest_key: str, error_code: str | None = None) -> None:
    names = {"#s": "status", "#m": "manifest_key", "#u": "updated_at"}
    values: dict[str, Any] = {":s": {"S": status}, ":m": {"S": manifest_key}, ":u": {"S": _now()}}
    expression = "SET #s = :s, #m = :m, #u = :u"
    if error_code:
        names["#e"] = "error_code"
        values[":e"] = {"S": error_code}
        expression += ", #e = :e"
    client("dynamodb").update_item(TableName=settings().jobs_table, Key=_job_key(media_id),
                                   UpdateExpression=expression, ExpressionAttributeNames=names,
                                   ExpressionAttributeValues=values)


def _token_key(kind: str, name: str) -> dict[str, Any]:
    return {"pk": {"S": f"TOKEN#{kind}#{name}"}, "sk": {"S": "TOKEN"}}


def save_task_token(kind: str, name: str, *, task_token: str, media_id: str) -> None:
    expires_at = int(time.time()) + settings().token_ttl_seconds
    client("dynamodb").put_item(TableName=settings().jobs_table, Item={
        **_token_key(kind, name),
        "task_token": {"S": task_token},
        "media_id": {"S": media_id},
        "expires_at": {"N": str(expires_at)},
    })


def get_task_token(kind: str, name: str) -> str | None:
    item = client("dynamodb").get_item(TableName=settings().jobs_table, Key=_token_key(kind, name),
                                       ConsistentRead=True).get("Item")
    return item["task_token"]["S"] if item else None


def delete_task_token(kind: str, name: str) -> None:
    """Called once the execution was resumed; the TTL removes tokens that are never used."""
    client("dynamodb").delete_item(TableName=settings().jobs_table, Key=_token_key(kind, name))
