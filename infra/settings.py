"""Typed settings of the deployment, read once from the `cdk.json` context (or `-c key=value`), each checked.

Every key has a type and a rule (a range, a list of values, a shape); a value that breaks it, or a key that is
no setting (a misspelt one), stops synthesis with one line per problem naming the key, what it got and what it
accepts (`SettingsError`; app.py prints it without a traceback). docs/deploy.md lists the same keys.
"""
from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable

from constructs import Node

# Defaults for a key missing from cdk.json; docs/deploy.md lists the same values.
DEFAULTS: dict[str, Any] = {
    "stack_name": "MediaPipeline",
    "upload_prefix": "uploads/",
    "results_prefix": "results/",
    "raw_upload_expiration_days": 30,
    "noncurrent_version_expiration_days": 7,
    "results_expiration_days": 0,
    "retain_data": True,
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
    "reconcile_schedule_minutes": 60,
    "reconcile_grace_minutes": 15,
    "bundling": True,
    "ingest_max_concurrency": 10,
    "textract_max_jobs": 90,
    "capacity_lease_seconds": 3600,
    "web_self_sign_up": False,
    "backfill_batch_size": 50,
    "backfill_max_concurrency": 10,
    "backfill_tolerated_failure_percentage": 5,
}

# CloudWatch Logs accepts these retention periods only.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)
# Fargate's CPU units and the memory (MiB) each allows: (first, last, step).
FARGATE_MEMORY = {256: (512, 2048, None), 512: (1024, 4096, 1024), 1024: (2048, 8192, 1024),
                  2048: (4096, 16384, 1024), 4096: (8192, 30720, 1024), 8192: (16384, 61440, 4096),
                  16384: (32768, 122880, 8192)}
MAX_MEDIA_BYTES = 2 * 1024**3  # Transcribe's limit, the largest of the services'
# A video past this is no job for a Lambda: extract_media has 15 minutes to decode it.
MAX_VIDEO_LAMBDA_SECONDS = 3600
# provider.model[-version][:revision][:context], optionally behind a geography (`us.`, `eu.`, `global.`, ...).
MODEL_ID = re.compile(r"^(?:[a-z]{2,6}(?:-[a-z]+)?\.)?[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9][a-z0-9.-]*(?::[0-9a-z]+){0,2}$")
MODEL_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:(?:\d{12})?:"
                       r"(?:foundation-model|inference-profile|application-inference-profile|provisioned-model|"
                       r"custom-model|imported-model)/[A-Za-z0-9.:/_-]+$")
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(?:/[A-Za-z0-9!_.*'()-]+)*/$")
_TRUE, _FALSE = ("true", "1", "yes", "on", "enabled"), ("false", "0", "no", "off", "disabled")


class SettingsError(ValueError):
    """One or more settings refused; each problem is one line of the message."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@functools.lru_cache(maxsize=1)
def transcribe_languages() -> tuple[str, ...]:
    """The language codes Transcribe's batch API takes (from botocore's model of the API)."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("transcribe")
    return tuple(model.shape_for("LanguageCode").enum)


def _as_bool(value: Any) -> bool:
    # `-c bundling=false` arrives as the string "false".
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false, got {value!r}")


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a whole number, got {value!r}")
    try:
        return int(str(value).strip()) if not isinstance(value, (int, float)) else int(value)
    except ValueError:
        raise ValueError(f"expected a whole number, got {value!r}") from None


def _at_least(low: int, high: int | None = None) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        if value < low or (high is not None and value > high):
            return f"must be {low} or more" + (f" and at most {high:,}" if high is not None else "")
        return None
    return check


def _one_of(allowed: Iterable[Any], what: str = "") -> Callable[[Any], str | None]:
    allowed = tuple(allowed)

    def check(value: Any) -> str | None:
        if value in allowed:
            return None
        close = difflib.get_close_matches(str(value), [str(a) for a in allowed], n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        listed = ", ".join(str(a) for a in allowed) if len(allowed) <= 24 else f"{what} ({len(allowed)} values)"
        return f"must be one of {listed}{hint}"
    return check


def _transcribe_language(value: str) -> str | None:
    if value == "auto":
        return None
    if value in transcribe_languages():
        return None
    by_case = {code.lower(): code for code in transcribe_languages()}
    close = [by_case[value.lower()]] if value.lower() in by_case else \
        difflib.get_close_matches(value, transcribe_languages(), n=1, cutoff=0.6)
    return (f"must be auto (Transcribe identifies the language) or one of the {len(transcribe_languages())} language "
            f"codes Transcribe supports, such as en-US, de-DE, fr-FR, es-ES, ja-JP" +
            (f" (did you mean {close[0]}?)" if close else ""))


def _model_id(value: str, *, optional: bool = False) -> str | None:
    if (optional and value == "") or MODEL_ID.match(value) or MODEL_ARN.match(value):
        return None
    return ("must be a Bedrock model id such as amazon.nova-lite-v1:0, an inference profile id such as "
            "us.amazon.nova-lite-v1:0, or a Bedrock model or inference-profile ARN")


def _match(pattern: re.Pattern[str], shape: str) -> Callable[[str], str | None]:
    return lambda value: None if pattern.match(value) else f"must be {shape}"


# key -> the value's check (None when it is fine, else what it must be).
RULES: dict[str, Callable[[Any], str | None]] = {
    "stack_name": _match(STACK_NAME, "a CloudFormation stack name (a letter, then letters, digits and -)"),
    "upload_prefix": _match(PREFIX, "a folder such as uploads/ (ends with /, no leading /)"),
    "results_prefix": _match(PREFIX, "a folder such as results/ (ends with /, no leading /)"),
    "raw_upload_expiration_days": _at_least(1),
    "noncurrent_version_expiration_days": _at_least(1),
    "results_expiration_days": _at_least(0),
    "transcribe_language": _transcribe_language,
    "bedrock_model_id": _model_id,
    "bedrock_profile_model_id": functools.partial(_model_id, optional=True),
    "enrichment_max_input_tokens": _at_least(500, 1_000_000),
    "enrichment_token_budget": _at_least(1),
    "max_media_bytes": _at_least(1, MAX_MEDIA_BYTES),
    "video_lambda_max_seconds": _at_least(0, MAX_VIDEO_LAMBDA_SECONDS),
    "worker_cpu": _one_of(FARGATE_MEMORY),
    "worker_memory_mib": _at_least(512, 122880),
    "worker_networking": _one_of(("public", "private")),
    "log_retention_days": _one_of(LOG_RETENTION_DAYS),
    "reconcile_schedule_minutes": _at_least(0),  # 0: no schedule
    "reconcile_grace_minutes": _at_least(1),  # reconcile would race ingest
    "ingest_max_concurrency": _at_least(2, 1000),  # SQS event sources' maximum concurrency
    "textract_max_jobs": _at_least(1),
    "capacity_lease_seconds": _at_least(60),
    "backfill_batch_size": _at_least(1, 1000),  # objects a child of the map admits (within its 240 s)
    "backfill_max_concurrency": _at_least(1, 10_000),  # Distributed Map's limit of concurrent children
    "backfill_tolerated_failure_percentage": _at_least(0, 100),  # ToleratedFailurePercentage of the map run
}


def is_setting_key(key: str) -> bool:
    """A key of this app's settings: snake_case. CDK's own keys (`@aws-cdk/...`, `aws:cdk:...`, lookups) have : or @."""
    return re.fullmatch(r"[a-z][a-z0-9_]*", key) is not None


def unknown_keys(keys: Iterable[str]) -> list[str]:
    problems = []
    for key in sorted(set(keys)):
        if is_setting_key(key) and key not in DEFAULTS:
            close = difflib.get_close_matches(key, list(DEFAULTS), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else "; the settings are listed in docs/deploy.md"
            problems.append(f"{key}: no such setting{hint}")
    return problems


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    stack_name: str
    upload_prefix: str
    results_prefix: str
    raw_upload_expiration_days: int
    noncurrent_version_expiration_days: int
    results_expiration_days: int
    retain_data: bool
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
    reconcile_schedule_minutes: int  # 0: no schedule (run `media-pipeline reconcile` by hand)
    reconcile_grace_minutes: int
    bundling: bool
    ingest_max_concurrency: int  # the ingest function's concurrency from its queue (SQS maximum concurrency)
    textract_max_jobs: int  # asynchronous Textract jobs at once (media_pipeline/admission.py)
    capacity_lease_seconds: int  # a slot whose release was lost returns after this
    web_self_sign_up: bool  # workshops: anyone with the page's address may create a user
    backfill_batch_size: int  # objects per batch of `media-pipeline backfill` (ItemBatcher's MaxItemsPerBatch)
    backfill_max_concurrency: int  # batches admitted at once (the map's MaxConcurrency; ingest keeps its own limit)
    backfill_tolerated_failure_percentage: int  # objects in failed batches a backfill tolerates before it fails

    @classmethod
    def from_context(cls, node: Node) -> "PipelineSettings":
        problems = unknown_keys(node.get_all_context().keys())
        values: dict[str, Any] = {}
        for field in fields(cls):
            raw = node.try_get_context(field.name)
            raw = DEFAULTS[field.name] if raw is None else raw
            try:
                value = _as_bool(raw) if field.type == "bool" else _as_int(raw) if field.type == "int" else str(raw).strip()
            except ValueError as exc:
                problems.append(f"{field.name}={raw}: {exc}")
                continue
            problem = RULES[field.name](value) if field.name in RULES else None
            if problem:
                problems.append(f"{field.name}={raw}: {problem}")
            values[field.name] = value
        if problems:
            raise SettingsError(problems)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Rules across keys."""
        problems = []
        if self.upload_prefix.startswith(self.results_prefix) or self.results_prefix.startswith(self.upload_prefix):
            problems.append(f"upload_prefix={self.upload_prefix}, results_prefix={self.results_prefix}: must not "
                            "overlap (results would start the pipeline again)")
        first, last, step = FARGATE_MEMORY[self.worker_cpu]
        if step is None:  # 256 CPU units: three sizes only
            ok, choices = self.worker_memory_mib in (512, 1024, 2048), "512, 1024 or 2048"
        else:
            ok = first <= self.worker_memory_mib <= last and (self.worker_memory_mib - first) % step == 0
            choices = f"{first} to {last} in steps of {step}"
        if not ok:
            problems.append(f"worker_memory_mib={self.worker_memory_mib}: with worker_cpu={self.worker_cpu}, "
                            f"Fargate takes {choices}")
        if self.enrichment_token_budget < self.enrichment_max_input_tokens:
            problems.append(f"enrichment_token_budget={self.enrichment_token_budget}: must be at least "
                            f"enrichment_max_input_tokens ({self.enrichment_max_input_tokens}), or no chunk fits")
        if self.pii_redaction and self.transcribe_language not in ("auto", "en-US", "es-US"):
            # Transcribe redacts batch transcripts in US English and US Spanish only, without language identification.
            problems.append(f"transcribe_language={self.transcribe_language}: pii_redaction needs en-US or es-US (or "
                            "auto, which then means en-US): Transcribe cannot redact other languages")
        if problems:
            raise SettingsError(problems)
