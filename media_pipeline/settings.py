"""Typed view of the function environment, read once per process."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Settings:
    media_bucket: str
    jobs_table: str
    event_bus_name: str = "default"
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    state_machine_arn: str = ""
    express_state_machine_arn: str = ""  # EXPRESS_STATE_MACHINE_ARN: images read synchronously (workflows.py)
    max_media_bytes: int = 2 * 1024**3
    transcribe_language: str = "auto"
    bedrock_model_id: str = "amazon.nova-lite-v1:0"
    enrichment_max_input_tokens: int = 6000
    enrichment_token_budget: int = 200_000
    textract_sns_topic_arn: str = ""
    textract_role_arn: str = ""
    language_identification: bool = True  # LANGUAGE_IDENTIFICATION (switch(): enabled/disabled, true/false)
    pii_redaction: bool = False  # PII_REDACTION
    keep_unredacted: bool = True  # KEEP_UNREDACTED
    token_ttl_seconds: int = 2 * 24 * 3600
    transcribe_data_access_role_arn: str = ""  # Transcribe queues jobs past its quota with it (deferred execution)
    textract_max_jobs: int = 90  # asynchronous Textract jobs at once (admission.py); the account's quota is 100
    capacity_lease_seconds: int = 3600  # a slot whose release was lost returns after this
    ingest_queue_url: str = ""  # INGEST_QUEUE_URL: where reconcile sends an upload again
    reconcile_grace_seconds: int = 15 * 60  # RECONCILE_GRACE_SECONDS: uploads younger than this are left alone
    worker_cpu: int = 2048  # WORKER_CPU, WORKER_MEMORY_MIB: the video worker's size (prices its Fargate time)
    worker_memory_mib: int = 4096

    @classmethod
    def from_env(cls) -> "Settings":
        env = os.environ
        return cls(
            media_bucket=env.get("MEDIA_BUCKET", ""),
            jobs_table=env.get("JOBS_TABLE", ""),
            event_bus_name=env.get("EVENT_BUS_NAME", "default"),
            upload_prefix=env.get("UPLOAD_PREFIX", "uploads/"),
            results_prefix=env.get("RESULTS_PREFIX", "results/"),
            state_machine_arn=env.get("STATE_MACHINE_ARN", ""),
            express_state_machine_arn=env.get("EXPRESS_STATE_MACHINE_ARN", ""),
            max_media_bytes=int(env.get("MAX_MEDIA_BYTES", str(2 * 1024**3))),
            transcribe_language=env.get("TRANSCRIBE_LANGUAGE", "auto"),
            bedrock_model_id=env.get("BEDROCK_MODEL_ID", "amazon.nova-lite-v1:0"),
            enrichment_max_input_tokens=int(env.get("ENRICHMENT_MAX_INPUT_TOKENS", "6000")),
            enrichment_token_budget=int(env.get("ENRICHMENT_TOKEN_BUDGET", "200000")),
            textract_sns_topic_arn=env.get("TEXTRACT_SNS_TOPIC_ARN", ""),
            textract_role_arn=env.get("TEXTRACT_ROLE_ARN", ""),
            language_identification=switch(env, "LANGUAGE_IDENTIFICATION", default=True),
            pii_redaction=switch(env, "PII_REDACTION", default=False),
            keep_unredacted=switch(env, "KEEP_UNREDACTED", default=True),
            transcribe_data_access_role_arn=env.get("TRANSCRIBE_DATA_ACCESS_ROLE_ARN", ""),
            textract_max_jobs=int(env.get("TEXTRACT_MAX_JOBS", "90")),
            capacity_lease_seconds=int(env.get("CAPACITY_LEASE_SECONDS", "3600")),
            ingest_queue_url=env.get("INGEST_QUEUE_URL", ""),
            reconcile_grace_seconds=int(env.get("RECONCILE_GRACE_SECONDS", str(15 * 60))),
            worker_cpu=int(env.get("WORKER_CPU", "2048")),
            worker_memory_mib=int(env.get("WORKER_MEMORY_MIB", "4096")),
        )


_ON, _OFF = {"enabled", "true", "1", "yes", "on"}, {"disabled", "false", "0", "no", "off"}


def switch(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    """An on/off setting. A value that is neither is an error, never read as off: a misspelt PII_REDACTION must not
    publish personal data."""
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in _ON | _OFF:
        return value in _ON
    raise ValueError(f"{name}={env[name]!r}: expected one of {sorted(_ON | _OFF)}")


@functools.lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings.from_env()
