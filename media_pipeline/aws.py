"""The one way to build an AWS client: created on first use, cached per process.

Nothing here runs at import time, so importing a handler creates no client (cold starts bill INIT).
boto3 itself honours AWS_ENDPOINT_URL, which is how the local mode points clients at its emulator.
"""
from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import Any, Iterator

_clients: dict[tuple[str, str | None], Any] = {}
_session: Any = None  # boto3's Session; clients are made from it under _lock (a Session is not thread-safe)
_lock = threading.Lock()
# The clients of one Lambda sandbox. In AWS a process is a sandbox, so the module's cache is it; the local mode runs
# many sandboxes in one process and gives each its own (moto_gaps), so that one sandbox's adaptive retry state (its
# client-side rate limiter) does not slow the others, as it would not in AWS.
_sandbox: contextvars.ContextVar[dict[tuple[str, str | None], Any] | None] = contextvars.ContextVar(
    "media_pipeline_sandbox_clients", default=None)


@contextlib.contextmanager
def sandbox_clients(cache: dict[tuple[str, str | None], Any]) -> Iterator[None]:
    """Within this block, clients come from and go to `cache` (one emulated Lambda sandbox's)."""
    token = _sandbox.set(cache)
    try:
        yield
    finally:
        _sandbox.reset(token)


def client(service: str, region: str | None = None) -> Any:
    key = (service, region)
    clients = _sandbox.get()
    if clients is None:
        clients = _clients
    found = clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in clients:
            import boto3  # deferred: boto3's import alone is a large share of a cold start
            from botocore.config import Config

            config = Config(retries={"mode": "adaptive", "max_attempts": 5}, user_agent_extra="media-pipeline",
                            # presigned links and POSTs signed with SigV4 (botocore's us-east-1 default is SigV2)
                            **({"signature_version": "s3v4"} if service == "s3" else {}))
            global _session
            if _session is None:  # one session: the service models are loaded once, whatever the clients
                _session = boto3.session.Session()
            clients[key] = _session.client(service, region_name=region, config=config)
        return clients[key]


def reset_clients() -> None:
    """Forget cached clients and the session (tests and the local runtime switch endpoints and credentials)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
