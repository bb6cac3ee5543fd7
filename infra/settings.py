"""Typed settings of the deployment, read once from the `cdk.json` context (or `-c key=value`)."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from constructs import Node

# Defaults for a key missing from cdk.json; docs/deploy.md lists the same values.
DEFAULTS: dict[str, Any] = {
    "stack_name": "MediaPipeline",
    "upload_prefix": "uploads/",
    "results_prefix": "results/",
    "raw_upload_expiration_days": 30,
    "noncurrent_version_expiration_days": 7,
    "transcribe_language": "auto",
    "bedrock_model_id": "amazon.nova-lite-v1:0",
    "bedrock_profile_model_id": "",
    "enrichment_max_input_tokens": 6000,
    "enrichment_token_budget": 200000,
    "language_identification": True,
    "pii_redaction": False,
    "keep_unredacted": True,
    "max_media_bytes": 2147483648,
    "video_lambda_max_seconds": 600,
    "worker_cpu": 2048,
    "worker_memory_mib": 4096,
    "worker_networking": "public",
    "log_retention_days": 30,
    "bundling": True,
    "web_self_sign_up": False,
}


def _as_bool(value: Any) -> bool:
    # `-c bundling=false` arrives as the string "false".
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off", "")
    return bool(value)


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    stack_name: str
    upload_prefix: str
    results_prefix: str
    raw_upload_expiration_days: int
    noncurrent_version_expiration_days: int
    transcribe_language: str
    bedrock_model_id: str
    bedrock_profile_model_id: str
    enrichment_max_input_tokens: int
    enrichment_token_budget: int
    language_identification: bool
    pii_redaction: bool
    keep_unredacted: bool
    max_media_bytes: int
    video_lambda_max_seconds: int
    worker_cpu: int
    worker_memory_mib: int
    worker_networking: str
    log_retention_days: int
    bundling: bool
    web_self_sign_up: bool  # workshops: anyone with the page's address may create a user

    @classmethod
    def from_context(cls, node: Node) -> "PipelineSettings":
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            raw = DEFAULTS[field.name] if raw is None else raw
            if field.type == "bool":
                values[field.name] = _as_bool(raw)
            elif field.type == "int":
                values[field.name] = int(raw)
            else:
                values[field.name] = str(raw)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("upload_prefix", "results_prefix"):
            prefix = getattr(self, name)
            if not prefix.endswith("/") or prefix.startswith("/"):
                raise ValueError(f"{name} must look like 'folder/', got {prefix!r}")
        if self.upload_prefix.startswith(self.results_prefix) or self.results_prefix.startswith(self.upload_prefix):
            raise ValueError("upload_prefix and results_prefix must not overlap (results would trigger ingest)")
        if self.worker_networking not in ("public", "private"):
            raise ValueError(f"worker_networking must be 'public' or 'private', got {self.worker_networking!r}")
        if self.raw_upload_expiration_days < 1 or self.log_retention_days < 1:
            raise ValueError("raw_upload_expiration_days and log_retention_days must be at least 1")
        if self.pii_redaction and self.transcribe_language not in ("", "auto", "en-US", "es-US"):
            # Transcribe redacts batch transcripts in US English and US Spanish only, without language identification.
            raise ValueError("pii_redaction needs transcribe_language 'en-US' or 'es-US' (or 'auto', which then means "
                             f"en-US): Transcribe cannot redact {self.transcribe_language!r} transcripts")
