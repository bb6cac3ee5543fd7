"""Admission control: at most N of a service's jobs run at once; the others wait their turn, and none fails for it.

Transcribe queues its own jobs past its concurrency quota (`AllowDeferredExecution`); Textract refuses a job past
its quota, so the pipeline keeps count itself, in the jobs table:

- `CAPACITY#<service>` / `SLOTS`: the media ids holding a slot, each with a lease (epoch seconds), and a version
  number for optimistic concurrency;
- `CAPACITY#<service>` / `WAIT#<enqueued ms>#<media id>`: the items waiting, oldest first, with what their job
  needs.

A start step enqueues its item, then dispatches: the oldest waiters get the free slots and their jobs start. Its
execution keeps waiting on the task token it parked, through the queue and the job alike, so waiting costs no
state transitions. A slot is given back when the job's notification arrives (the callback), and when the execution
ends other than SUCCEEDED (Step Functions' status change event → `release_capacity`); each release dispatches the
next waiter. A lease is the last resort: a slot whose release was lost is taken back once its lease runs out, and a
scheduled sweep (`release_capacity` every few minutes) dispatches then, so a lost event delays items, never strands
them.
Enqueue-then-dispatch and release-then-dispatch leave no window in which a free slot and a waiter miss each other.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable

from media_pipeline.aws import client
from media_pipeline.settings import settings

KEY_PREFIX = "CAPACITY#"
SLOTS = "SLOTS"
WAIT = "WAIT#"
MAX_WRITE_CONFLICTS = 50  # optimistic writes to one item: a conflict means another writer got there first


class CapacityConflict(RuntimeError):
    """The slots item changed under every attempt: too many writers at once (retried by the caller's policy)."""


@dataclass(frozen=True)
class Waiter:
    media_id: str
    request: dict[str, Any]  # what starting the job needs, as the start step built it
    sort_key: str


def _key(service: str, sort_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{KEY_PREFIX}{service}"}, "sk": {"S": sort_key}}


def _read_slots(service: str) -> tuple[dict[str, int], int | None]:
    item = client("dynamodb").get_item(TableName=settings().jobs_table, Key=_key(service, SLOTS),
                                       ConsistentRead=True).get("Item")
    if not item:
        return {}, None
    holders = {media_id: int(value["N"]) for media_id, value in (item.get("holders") or {}).get("M", {}).items()}
    return holders, int(item["version"]["N"])


def _write_slots(service: str, holders: dict[str, int], version: int | None) -> bool:
    ddb = client("dynamodb")
    item = {**_key(service, SLOTS), "holders": {"M": {k: {"N": str(v)} for k, v in holders.items()}},
            "version": {"N": str((version or 0) + 1)}}
    condition = ({"ConditionExpression": "attribute_not_exists(pk)"} if version is None else
                 {"ConditionExpression": "#v = :v", "ExpressionAttributeNames": {"#v": "version"},
                  "ExpressionAttributeValues": {":v": {"N": str(version)}}})
    try:
        ddb.put_item(TableName=settings().jobs_table, Item=item, **condition)
        return True
    except ddb.exceptions.ConditionalCheckFailedException:
        return False


def _change_slots(service: str, change: Callable[[dict[str, int]], tuple[dict[str, int] | None, bool]]) -> bool:
    """Read the slots, apply `change` (new holders or None for no write, and the answer), write if changed."""
    for _ in range(MAX_WRITE_CONFLICTS):
        holders, version = _read_slots(service)
        now = int(time.time())
        live = {media_id: lease for media_id, lease in holders.items() if lease > now}  # expired leases end here
        updated, answer = change(live)
        if updated is None and live == holders:
            return answer
        if _write_slots(service, live if updated is None else updated, version):
            return answer
    raise CapacityConflict(f"the {service} slots changed under {MAX_WRITE_CONFLICTS} attempts in a row")


def acquire(service: str, media_id: str, limit: int, lease_seconds: int) -> bool:
    """Take a slot for media_id (True), or find none free (False). Taking it again is a no-op: True."""
    def take(live: dict[str, int]) -> tuple[dict[str, int] | None, bool]:
        if media_id in live:
            return None, True
        if len(live) >= limit:
            return None, False
        return {**live, media_id: int(time.time()) + lease_seconds}, True

    return _change_slots(service, take)


def release(service: str, media_id: str) -> bool:
    """Give back media_id's slot; False when it held none (released already, or never admitted)."""
    def give_back(live: dict[str, int]) -> tuple[dict[str, int] | None, bool]:
        if media_id not in live:
            return None, False
        return {k: v for k, v in live.items() if k != media_id}, True

    return _change_slots(service, give_back)


def holders(service: str) -> dict[str, int]:
    """The media ids holding a slot now, with their leases (operations and tests)."""
    live, _ = _read_slots(service)
    return {k: v for k, v in live.items() if v > int(time.time())}


def enqueue(service: str, media_id: str, request: dict[str, Any]) -> None:
    """Wait for a slot. Waiting again (a retried start step) keeps the first place in the queue."""
    ddb = client("dynamodb")
    if _waiting_entry(service, media_id):
        return
    sort_key = f"{WAIT}{int(time.time() * 1000):015d}#{media_id}"
    ddb.put_item(TableName=settings().jobs_table, Item={
        **_key(service, sort_key), "media_id": {"S": media_id}, "request": {"S": json.dumps(request)},
        "expires_at": {"N": str(int(time.time()) + settings().token_ttl_seconds)}})


def _waiters(service: str, limit: int | None = None) -> list[Waiter]:
    query: dict[str, Any] = {
        "TableName": settings().jobs_table, "ConsistentRead": True,
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :wait)",
        "ExpressionAttributeValues": {":pk": {"S": f"{KEY_PREFIX}{service}"}, ":wait": {"S": WAIT}}}
    if limit:
        query["Limit"] = limit
    found: list[Waiter] = []
    while True:
        page = client("dynamodb").query(**query)
        found += [Waiter(item["media_id"]["S"], json.loads(item["request"]["S"]), item["sk"]["S"])
                  for item in page.get("Items", [])]
        if (limit and len(found) >= limit) or "LastEvaluatedKey" not in page:
            return found
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def waiting(service: str) -> list[str]:
    """The media ids waiting for a slot, oldest first."""
    return [w.media_id for w in _waiters(service)]


def _waiting_entry(service: str, media_id: str) -> Waiter | None:
    return next((w for w in _waiters(service) if w.media_id == media_id), None)


def leave_queue(service: str, media_id: str) -> bool:
    """Stop waiting (the execution ended). True when media_id was waiting."""
    entry = _waiting_entry(service, media_id)
    if entry is None:
        return False
    client("dynamodb").delete_item(TableName=settings().jobs_table, Key=_key(service, entry.sort_key))
    return True


def dispatch(service: str, limit: int, lease_seconds: int,
             start: Callable[[Waiter], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Give free slots to the oldest waiters and start their jobs; returns what `start` said, per media id.

    `start` starts one waiter's job (idempotently: a waiter may be dispatched by two callers at once) and reports
    a failure to the waiter's own execution rather than raising.
    """
    started: dict[str, dict[str, Any]] = {}
    while True:
        oldest = _waiters(service, limit=1)
        if not oldest:
            return started
        waiter = oldest[0]
        if not acquire(service, waiter.media_id, limit, lease_seconds):
            return started  # no slot: the holder that releases next dispatches
        # The waiter leaves the queue only once its job started: a dispatcher that dies in between leaves it first in
        # line, holding its slot, and the next dispatch starts it (acquire and start are both idempotent).
        started[waiter.media_id] = start(waiter)
        client("dynamodb").delete_item(TableName=settings().jobs_table, Key=_key(service, waiter.sort_key))
