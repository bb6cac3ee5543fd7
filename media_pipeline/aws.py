"""The one way to build an AWS client: created on first use, cached per process.

Nothing here runs at import time, so importing a handler creates no client (cold starts bill INIT).
boto3 itself honours AWS_ENDPOINT_URL, which is how the local mode points clients at its emulator.
"""
from __future__ import annotations

import threading
from typing import Any

_clients: dict[tuple[str, str | None], Any] = {}
_lock = threading.Lock()


def client(service: str, region: str | None = None) -> Any:
    key = (service, region)
    found = _clients.get(key)
    if found is not None:
        return found
    with _lock:
        if key not in _clients:
            import boto3  # deferred: boto3's import alone is a large share of a cold start
            from botocore.config import Config

            config = Config(retries={"mode": "adaptive", "max_attempts": 5}, user_agent_extra="media-pipeline",
                            # presigned links and POSTs signed with SigV4 (botocore's us-east-1 default is SigV2)
                            **({"signature_version": "s3v4"} if service == "s3" else {}))
            _clients[key] = boto3.session.Session().client(service, region_name=region, config=config)
        return _clients[key]


def reset_clients() -> None:
    """Forget cached clients (tests and the local runtime switch endpoints and credentials)."""
    with _lock:
        _clients.clear()
