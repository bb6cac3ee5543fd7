"""Uploads whose events never reach ingest, on the emulator: a lost S3 event, or an archive put before the pipeline."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from media_pipeline.local import account


@contextlib.contextmanager
def upload_rule_disabled(pipeline: Any) -> Iterator[None]:
    """The upload rule is disabled meanwhile: objects put now raise no event that reaches the ingest queue."""
    events = pipeline.client("events")
    events.disable_rule(Name=account.UPLOAD_RULE)
    try:
        yield
    finally:
        events.enable_rule(Name=account.UPLOAD_RULE)
