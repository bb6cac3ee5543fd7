"""Service quotas and injected faults: the emulator refuses what AWS would refuse when many files arrive at once.

`Quotas` holds the limits (AWS's default values unless told otherwise; small ones in tests and benchmarks),
`Faults` a share of calls per service that fail with throttling or a 5xx, drawn from a seeded generator. Both are
applied by `moto_gaps.install_capacity` at the moment botocore sends a request, so botocore's own retry modes see
the refusal exactly as they would see AWS's (the same status, error code and protocol), and by the emulated
Transcribe and Textract for their concurrent-job quotas. `report()` counts what was refused, per service.

Defaults are the published defaults for us-east-1 (Service Quotas console, read 2026-11): Transcribe 250 concurrent
batch jobs in us-east-1 and us-west-2 (100 elsewhere), Textract 100 concurrent asynchronous text-detection jobs,
Bedrock's per-model quotas vary (200 requests and 200,000 tokens a minute is a conservative on-demand value), Lambda
1,000 concurrent executions, Step Functions StartExecution a bucket of 1,300 refilled at 300 a second. Your
account's values are in the Service Quotas console; pass them to the local mode to rehearse a burst.
"""
from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Quotas:
    transcribe_concurrent_jobs: int = 250
    transcribe_starts_per_second: float = 25.0
    textract_concurrent_jobs: int = 100       # asynchronous text detection jobs that exist at once
    textract_starts_per_second: float = 15.0  # StartDocumentTextDetection
    textract_detect_per_second: float = 10.0  # DetectDocumentText
    bedrock_requests_per_minute: int = 200
    bedrock_tokens_per_minute: int = 200_000
    comprehend_per_second: float = 20.0
    lambda_concurrency: int = 1000
    start_execution_bucket: int = 1300
    start_execution_per_second: float = 300.0
    # Not a quota: every emulated Transcribe or Textract job lasts at least this long (fast engines in benchmarks
    # would otherwise finish before a burst builds up).
    min_job_seconds: float = 0.0


    @classmethod
    def parse(cls, spec: str) -> "Quotas":
        """`textract_concurrent_jobs=3,transcribe_concurrent_jobs=5`: AWS's defaults for what is not named."""
        known = {f.name: f.type for f in fields(cls)}
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, value = part.partition("=")
            name = name.strip()
            if name not in known:
                raise ValueError(f"quota {name!r}: expected one of {sorted(known)}")
            try:
                values[name] = float(value) if known[name] == "float" else int(value)
            except ValueError:
                raise ValueError(f"quota {part!r}: the value must be a number") from None
            if values[name] < 0:
                raise ValueError(f"quota {part!r}: the value must not be negative")
        return cls(**values)


QUOTAS_VARIABLE = "MEDIA_PIPELINE_QUOTAS"  # the local mode reads these when it is not given quotas and faults
FAULTS_VARIABLE = "MEDIA_PIPELINE_FAULTS"
FAULT_SEED_VARIABLE = "MEDIA_PIPELINE_FAULT_SEED"


def from_environment(env: Mapping[str, str]) -> tuple[Quotas, "Faults"]:
    """The local mode's quotas and faults from MEDIA_PIPELINE_QUOTAS, MEDIA_PIPELINE_FAULTS and
    MEDIA_PIPELINE_FAULT_SEED (docs/local-mode.md, "Bursts and faults")."""
    seed = env.get(FAULT_SEED_VARIABLE, "0").strip() or "0"
    if not seed.lstrip("-").isdigit():
        raise ValueError(f"{FAULT_SEED_VARIABLE}={seed!r}: expected a whole number")
    return Quotas.parse(env.get(QUOTAS_VARIABLE, "")), Faults.parse(env.get(FAULTS_VARIABLE, ""), int(seed))


# (service id as botocore names it, operation) -> the quota it draws on. Transcribe and Textract name their
# throttling LimitExceededException and ProvisionedThroughputExceededException; the others ThrottlingException.
THROTTLE_CODES = {"transcribe": "LimitExceededException", "textract": "ProvisionedThroughputExceededException",
                  "bedrock-runtime": "ThrottlingException", "comprehend": "ThrottlingException",
                  "sfn": "ThrottlingException", "lambda": "TooManyRequestsException", "s3": "SlowDown",
                  "dynamodb": "ProvisionedThroughputExceededException", "sqs": "ThrottlingException",
                  "events": "ThrottlingException", "sns": "Throttling"}
SERVER_ERRORS = {"s3": ("InternalError", 500), "dynamodb": ("InternalServerError", 500),
                 "bedrock-runtime": ("InternalServerException", 500), "textract": ("InternalServerError", 500),
                 "transcribe": ("InternalFailureException", 500), "comprehend": ("InternalServerException", 500)}
REST_JSON = ("bedrock-runtime", "lambda")
REST_XML = ("s3",)
AI_SERVICES = ("transcribe", "textract", "bedrock-runtime", "comprehend")


class _Bucket:
    """A token bucket: `capacity` requests at once, refilled at `rate` a second."""

    def __init__(self, capacity: float, rate: float):
        self.capacity, self.rate = float(capacity), float(rate)
        self.tokens, self.stamp = float(capacity), time.monotonic()

    def take(self, amount: float = 1.0) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < amount:
            return False
        self.tokens -= amount
        return True


class ConcurrentJobs:
    """Jobs running at once against a quota; deferred starts wait in arrival order (Transcribe's QUEUED)."""

    def __init__(self, limit: int):
        self.limit, self.running, self.max_running, self.max_queued = limit, 0, 0, 0
        self._deferred: deque[Callable[[], None]] = deque()
        self._lock = threading.Lock()

    def try_start(self) -> bool:
        with self._lock:
            if self.running >= self.limit:
                return False
            self.running += 1
            self.max_running = max(self.max_running, self.running)
            return True

    def defer(self, start: Callable[[], None]) -> None:
        with self._lock:
            if self.running < self.limit and not self._deferred:
                self.running += 1
                self.max_running = max(self.max_running, self.running)
            else:
                self._deferred.append(start)
                self.max_queued = max(self.max_queued, len(self._deferred))
                return
        start()

    def finish(self) -> None:
        """A job ended: its slot goes to the oldest deferred start, if any."""
        with self._lock:
            following = self._deferred.popleft() if self._deferred else None
            if following is None:
                self.running -= 1
        if following is not None:
            following()

    @property
    def queued(self) -> int:
        return len(self._deferred)


@dataclass(frozen=True)
class Faults:
    """A share of calls per service (botocore's service id: s3, dynamodb, transcribe, textract, bedrock-runtime,
    comprehend, ...) that fail: with the service's throttling error (`throttle`) or a 5xx (`5xx`)."""

    rates: Mapping[str, tuple[float, str]] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def parse(cls, spec: str, seed: int = 0) -> "Faults":
        """`transcribe=0.3,textract=0.3,s3=0.05:5xx`: AI services default to throttling, others to a 5xx."""
        rates: dict[str, tuple[float, str]] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            service, _, value = part.partition("=")
            rate, _, kind = value.partition(":")
            kind = kind or ("throttle" if service.strip() in AI_SERVICES else "5xx")
            if kind not in ("throttle", "5xx") or not service.strip():
                raise ValueError(f"fault {part!r}: write service=rate[:throttle|5xx], e.g. transcribe=0.3")
            share = float(rate)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"fault {part!r}: the rate is a share of calls between 0 and 1")
            rates[service.strip()] = (share, kind)
        return cls(rates, seed)


@dataclass
class Capacity:
    quotas: Quotas
    faults: Faults
    transcribe: ConcurrentJobs
    textract: ConcurrentJobs
    buckets: dict[tuple[str, str], _Bucket]
    lambda_running: int = 0
    max_lambda_running: int = 0
    calls: Counter = field(default_factory=Counter)
    refused: Counter = field(default_factory=Counter)    # over a quota
    injected: Counter = field(default_factory=Counter)   # injected faults
    lock: threading.Lock = field(default_factory=threading.Lock)
    random: random.Random = field(default_factory=random.Random)


_capacity: Capacity | None = None


def install(quotas: Quotas | None = None, faults: Faults | None = None) -> Capacity:
    global _capacity
    quotas, faults = quotas or Quotas(), faults or Faults()
    per_minute = 60.0
    _capacity = Capacity(
        quotas=quotas, faults=faults,
        transcribe=ConcurrentJobs(quotas.transcribe_concurrent_jobs),
        textract=ConcurrentJobs(quotas.textract_concurrent_jobs),
        buckets={
            ("transcribe", "StartTranscriptionJob"): _Bucket(quotas.transcribe_starts_per_second,
                                                             quotas.transcribe_starts_per_second),
            ("textract", "StartDocumentTextDetection"): _Bucket(quotas.textract_starts_per_second,
                                                                quotas.textract_starts_per_second),
            ("textract", "DetectDocumentText"): _Bucket(quotas.textract_detect_per_second,
                                                        quotas.textract_detect_per_second),
            ("bedrock-runtime", "requests"): _Bucket(quotas.bedrock_requests_per_minute,
                                                     quotas.bedrock_requests_per_minute / per_minute),
            ("bedrock-runtime", "tokens"): _Bucket(quotas.bedrock_tokens_per_minute,
                                                   quotas.bedrock_tokens_per_minute / per_minute),
            ("comprehend", "*"): _Bucket(quotas.comprehend_per_second, quotas.comprehend_per_second),
            ("sfn", "StartExecution"): _Bucket(quotas.start_execution_bucket, quotas.start_execution_per_second),
        },
    )
    _capacity.random.seed(faults.seed)
    return _capacity


def reset() -> None:
    global _capacity
    _capacity = None


def current() -> Capacity | None:
    return _capacity


def min_job_seconds() -> float:
    return _capacity.quotas.min_job_seconds if _capacity else 0.0


def _bedrock_tokens(body: bytes | str | None) -> float:
    """Bedrock reserves the input's tokens plus maxTokens when a request starts (about 4 characters a token)."""
    try:
        request = json.loads(body or b"{}")
    except ValueError:
        return 1.0
    text = json.dumps(request.get("messages") or []) + json.dumps(request.get("system") or [])
    return len(text) / 4 + float((request.get("inferenceConfig") or {}).get("maxTokens") or 0)


def _over_quota(capacity: Capacity, service: str, operation: str, body: Any) -> str | None:
    """The refusal message when this request is over a rate quota; None when it may go."""
    if service == "bedrock-runtime" and operation in ("Converse", "InvokeModel", "ConverseStream"):
        if not capacity.buckets[("bedrock-runtime", "requests")].take():
            return "Too many requests, please wait before trying again."
        if not capacity.buckets[("bedrock-runtime", "tokens")].take(_bedrock_tokens(body)):
            return "Too many tokens, please wait before trying again."
        return None
    bucket = capacity.buckets.get((service, operation)) or capacity.buckets.get((service, "*"))
    if bucket is not None and not bucket.take():
        return "Rate exceeded" if service != "transcribe" else (
            "You have exceeded the maximum request rate. Try your request again later.")
    return None


def refusal(service: str, operation: str, body: Any) -> tuple[int, dict[str, str], bytes] | None:
    """What the service answers instead of running the request (a quota or an injected fault), or None."""
    capacity = _capacity
    if capacity is None:
        return None
    with capacity.lock:
        capacity.calls[service] += 1
        rate, kind = capacity.faults.rates.get(service, (0.0, ""))
        if rate and capacity.random.random() < rate:
            capacity.injected[service] += 1
            capacity.injected[f"{service}:{operation}"] += 1
            if kind == "throttle":
                return error_response(service, THROTTLE_CODES.get(service, "ThrottlingException"),
                                      "Rate exceeded (injected fault)")
            code, status = SERVER_ERRORS.get(service, ("InternalServerError", 500))
            return error_response(service, code, "We encountered an internal error. Please try again. "
                                  "(injected fault)", status)
        message = _over_quota(capacity, service, operation, body)
        if message:
            capacity.refused[service] += 1
            capacity.refused[f"{service}:{operation}"] += 1
            return error_response(service, THROTTLE_CODES.get(service, "ThrottlingException"), message)
    return None


def error_response(service: str, code: str, message: str, status: int | None = None) -> tuple[int, dict[str, str], bytes]:
    """An error in the service's protocol, as botocore parses it (rest-xml, rest-json or json)."""
    if status is None:
        status = {"bedrock-runtime": 429, "lambda": 429, "s3": 503}.get(service, 400)
    if service in REST_XML:
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>emulated</RequestId></Error>").encode()
        return status, {"Content-Type": "application/xml"}, body
    if service in REST_JSON:
        return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, json.dumps(
            {"message": message, "Message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(
        {"__type": code, "message": message}).encode()


def lambda_started() -> bool:
    """A synchronous invocation begins: False when the account's concurrency is used up."""
    capacity = _capacity
    if capacity is None:
        return True
    with capacity.lock:
        if capacity.lambda_running >= capacity.quotas.lambda_concurrency:
            capacity.refused["lambda"] += 1
            return False
        capacity.lambda_running += 1
        capacity.max_lambda_running = max(capacity.max_lambda_running, capacity.lambda_running)
        return True


def lambda_finished() -> None:
    capacity = _capacity
    if capacity is not None:
        with capacity.lock:
            capacity.lambda_running -= 1


def report() -> dict[str, Any]:
    """Calls, refusals (quotas) and injected faults per service; the most jobs that ran at once."""
    capacity = _capacity
    if capacity is None:
        return {}
    with capacity.lock:
        return {
            "quotas": asdict(capacity.quotas),
            "calls": dict(capacity.calls), "over_quota": dict(capacity.refused),
            "injected_faults": dict(capacity.injected),
            "max_concurrent_transcribe_jobs": capacity.transcribe.max_running,
            "max_concurrent_textract_jobs": capacity.textract.max_running,
            "max_queued_transcribe_jobs": capacity.transcribe.max_queued,
            "max_concurrent_lambda": capacity.max_lambda_running,
            "transcribe_jobs_running": capacity.transcribe.running,
            "textract_jobs_running": capacity.textract.running,
        }
