"""SQS → Lambda as Lambda's event source mappings do it: a poller per mapping instead of moto's delivery inside
SendMessage (a workaround listed in the gap table of `moto_gaps` and docs/local-mode.md).

Lambda with SQS: batches of up to BatchSize, the queue's visibility timeout, ReportBatchItemFailures (only the
listed messages stay; an unhandled error or a timeout keeps the whole batch), and the queue's RedrivePolicy moves a
message to the DLQ once its receive count passes maxReceiveCount.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from media_pipeline.local import moto_gaps

POLL_SECONDS = 0.1

log = logging.getLogger("media_pipeline.local.emulator")



@dataclass
class _Poller:
    account: str
    region: str
    mapping_id: str
    interval: float
    stop: threading.Event = field(default_factory=threading.Event)
    busy: bool = False
    thread: threading.Thread | None = None


_pollers: dict[str, _Poller] = {}
_queue_lock = threading.RLock()


def _lambda_backend(account: str, region: str) -> Any:
    from moto.awslambda.utils import get_backend

    return get_backend(account, region)


def _queue_of(account: str, region: str, arn: str) -> Any:
    from moto.sqs.models import sqs_backends

    return sqs_backends[account][region].get_queue(arn.rsplit(":", 1)[-1])


def _record(message: Any, queue: Any) -> dict[str, Any]:
    """The SQS event record Lambda builds for a received message."""
    attributes = {"ApproximateReceiveCount": str(message.approximate_receive_count),
                  "SentTimestamp": str(message.sent_timestamp), "SenderId": str(message.sender_id),
                  "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp)}
    if message.group_id:
        attributes.update(MessageGroupId=message.group_id, MessageDeduplicationId=message.deduplication_id or "")
    return {"messageId": message.id, "receiptHandle": message.receipt_handle, "body": message.body,
            "attributes": attributes, "messageAttributes": message.message_attributes or {},
            "md5OfBody": message.body_md5, "eventSource": "aws:sqs", "eventSourceARN": queue.queue_arn,
            "awsRegion": queue.region}


def failed_message_ids(payload: bytes, batch: list[str]) -> set[str]:
    """The messages a ReportBatchItemFailures response keeps in the queue. No list (or an empty one) is a
    success; a response Lambda cannot read, or an identifier that is empty or not in the batch, fails it all."""
    try:
        response = json.loads(payload or b"null")
    except ValueError:
        return set(batch)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    ids = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    return set(batch) if not ids <= set(batch) else ids


def _deliver_batch(mapping: Any, queue: Any, messages: list[Any]) -> None:
    from moto.sqs.models import sqs_backends

    event = {"Records": [_record(m, queue) for m in messages]}
    response_headers: dict[str, Any] = {}
    payload = _lambda_backend(mapping.account_id, mapping.region).invoke(
        mapping.function_arn, None, json.dumps(event), {}, response_headers)
    if "x-amz-function-error" in response_headers:
        return  # an unhandled error or a timeout: the whole batch comes back after the visibility timeout
    keep = set()
    if "ReportBatchItemFailures" in (mapping.function_response_types or []):
        keep = failed_message_ids(payload if isinstance(payload, bytes) else str(payload).encode(),
                                  [m.id for m in messages])
    backend = sqs_backends[mapping.account_id][mapping.region]
    for message in messages:
        if message.id not in keep:
            backend.delete_message(queue.name, message.receipt_handle)


def _poll_once(poller: _Poller) -> bool:
    """One receive and delivery; False when there was nothing to receive."""
    from moto.sqs.models import sqs_backends

    mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings.get(poller.mapping_id)
    if mapping is None:
        poller.stop.set()  # the mapping was deleted
        return False
    if not mapping.enabled:
        return False
    queue = _queue_of(poller.account, poller.region, mapping.event_source_arn)
    poller.busy = True
    try:
        messages = sqs_backends[poller.account][poller.region].receive_message(
            queue.name, int(mapping.batch_size or 10), 0, int(queue.visibility_timeout))
        if messages:
            _deliver_batch(mapping, queue, messages)
        return bool(messages)
    finally:
        poller.busy = False


def _poll(poller: _Poller) -> None:
    while not poller.stop.is_set():
        try:
            if _poll_once(poller):
                continue
        except Exception:  # noqa: BLE001 - the poller keeps polling, as Lambda's does
            log.exception("event source mapping %s could not poll", poller.mapping_id)
        _wait_for_message(poller)


def _wait_for_message(poller: _Poller) -> None:
    """Sleep until a message is sent (moto notifies) or the interval passes (a message may become visible)."""
    try:
        mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings[poller.mapping_id]
        condition = _queue_of(poller.account, poller.region, mapping.event_source_arn)._messages_lock
    except Exception:  # noqa: BLE001 - gone: the next poll stops
        poller.stop.wait(poller.interval)
        return
    with condition:
        condition.wait(poller.interval)


def _start_poller(mapping: Any, interval: float) -> None:
    if mapping.event_source_arn.split(":")[2] != "sqs" or mapping.uuid in _pollers:
        return
    poller = _Poller(mapping.account_id, mapping.region, mapping.uuid, interval)
    poller.thread = threading.Thread(target=_poll, args=(poller,), name=f"esm-{mapping.uuid[:8]}", daemon=True)
    _pollers[mapping.uuid] = poller
    poller.thread.start()


def stop_pollers(timeout: float = 5.0) -> None:
    """Stop every poller and wait for a batch in delivery to finish."""
    stopping = list(_pollers.values())
    _pollers.clear()
    for poller in stopping:
        poller.stop.set()
    deadline = time.monotonic() + timeout
    for poller in stopping:
        if poller.thread is not None and poller.thread is not threading.current_thread():
            poller.thread.join(max(0.0, deadline - time.monotonic()))


def pollers_idle() -> bool:
    """No batch in delivery and no visible message waiting in a polled queue."""
    for poller in list(_pollers.values()):
        if poller.busy:
            return False
        try:
            mapping = _lambda_backend(poller.account, poller.region)._event_source_mappings[poller.mapping_id]
            if mapping.enabled and _queue_of(poller.account, poller.region, mapping.event_source_arn).messages:
                return False
        except Exception:  # noqa: BLE001 - a mapping or queue that is gone has nothing waiting
            continue
    return True


def install_sqs_polling(poll_seconds: float = POLL_SECONDS) -> None:
    """SQS event source mappings poll their queue on a thread each, as Lambda does, instead of moto's delivery
    inside SendMessage (synchronous, one message a batch, failures ignored, nothing ever redelivered).

    Up to BatchSize messages are received with the queue's VisibilityTimeout and passed to the function in one
    SQS event; with FunctionResponseTypes ReportBatchItemFailures only the messages not listed in
    batchItemFailures are deleted; an unhandled error (a timeout included) deletes none. Messages not deleted
    come back after the visibility timeout, and moto's ReceiveMessage moves a message whose receive count
    reached the RedrivePolicy's maxReceiveCount to the dead-letter queue. A new message wakes the poller at
    once; otherwise it looks again every poll_seconds.
    """
    from moto.awslambda.models import LambdaBackend
    from moto.sqs.models import Queue

    add_message = Queue.__dict__["add_message"]

    def add_without_delivery(self: Any, message: Any) -> None:
        with _queue_lock:  # moto delivers to the mappings it finds on the queue: it finds none
            mappings = self.lambda_event_source_mappings
            self.lambda_event_source_mappings = {}
            try:
                add_message(self, message)
            finally:
                self.lambda_event_source_mappings = mappings

    moto_gaps._patch(Queue, "add_message", add_without_delivery)

    create_mapping = LambdaBackend.__dict__["create_event_source_mapping"]

    def create_and_poll(self: Any, spec: dict[str, Any]) -> Any:
        with _queue_lock:
            mapping = create_mapping(self, spec)
        _start_poller(mapping, poll_seconds)
        return mapping

    moto_gaps._patch(LambdaBackend, "create_event_source_mapping", create_and_poll)
    for backend in _existing_lambda_backends():
        for mapping in list(backend._event_source_mappings.values()):
            _start_poller(mapping, poll_seconds)


def _existing_lambda_backends() -> list[Any]:
    from moto.awslambda.models import lambda_backends
    from moto.awslambda_simple.models import lambda_simple_backends

    found = []
    for backends in (lambda_backends, lambda_simple_backends):
        for account in list(backends.keys()):
            found.extend(backends[account][region] for region in list(backends[account].keys()))
    return found
