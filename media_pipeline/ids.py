"""Deterministic identifiers: the same upload always maps to the same media id, execution and jobs."""
from __future__ import annotations

import hashlib
import re


def media_id_for(bucket: str, key: str, version: str | None) -> str:
    digest = hashlib.sha256(f"{bucket}/{key}#{version or ''}".encode()).hexdigest()
    return digest[:32]


def transcribe_job_name(media_id: str, part: int = 0) -> str:
    return f"media-{media_id}-{part}"


def media_id_from_job_name(job_name: str) -> str | None:
    match = re.fullmatch(r"media-([0-9a-f]{32})-(\d+)", job_name or "")
    return match.group(1) if match else None
