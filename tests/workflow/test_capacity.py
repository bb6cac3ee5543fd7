"""Capacity delays items, never fails them: small quotas in the emulator, the real ASL, handlers and admission queue.

Transcribe queues jobs past its quota itself (deferred execution); Textract's asynchronous jobs go through the
pipeline's own queue (media_pipeline/admission.py), whose slots come back when a job ends, when an execution ends
for any reason, and, for a release that was lost, when its lease runs out.
"""
from __future__ import annotations

import contextlib

import pytest

from media_pipeline import admission
from media_pipeline.local import quotas
from media_pipeline.local.runtime import LocalPipeline
from tests.document_factory import scanned_pdf
from tests.media_factory import wav_bytes
from tests.workflow.conftest import TRANSCRIPT
from tests.waiting import until

JOB_SECONDS = 0.6


@pytest.fixture(scope="module")
def pipeline():
    limits = quotas.Quotas(transcribe_concurrent_jobs=2, textract_concurrent_jobs=2, min_job_seconds=JOB_SECONDS)
    # Schedules run 300x faster: the 5-minute capacity sweep fires every second.
    with LocalPipeline(mode="mock", engines=False, quotas=limits, schedule_time_scale=1 / 300) as running:
        yield running


def scanned(n: int) -> bytes:
    return scanned_pdf([[f"Scanned form number {n}"]])


@contextlib.contextmanager
def jobs_lasting(seconds: float):
    limits = quotas.current().quotas
    object.__setattr__(limits, "min_job_seconds", seconds)
    try:
        yield
    finally:
        object.__setattr__(limits, "min_job_seconds", JOB_SECONDS)


@pytest.fixture
def fresh_counts(pipeline):
    """Concurrency observed from this test on (the module's pipeline keeps running)."""
    capacity = quotas.current()
    capacity.transcribe.max_running = capacity.transcribe.running
    capacity.textract.max_running = capacity.textract.running
    capacity.transcribe.max_queued = 0
    return capacity


def test_a_burst_of_scanned_documents_waits_for_textract_slots(pipeline, engines, fresh_counts):
    engines.documents[1] = {1: ["Scanned form"]}
    with jobs_lasting(2.0):
        uploads = [pipeline.upload(scanned(n), name=f"form-{n}.pdf") for n in range(6)]
        until(lambda: admission.waiting("textract"), what="an item waiting for a slot")
        manifests = [pipeline.wait(u.media_id, timeout=120) for u in uploads]
    assert [m["status"] for m in manifests] == ["SUCCEEDED"] * 6, [m.get("error") for m in manifests]
    assert all(m["text"]["content"] == "Scanned form" for m in manifests)
    assert fresh_counts.textract.max_running == 2, quotas.report()  # the quota was reached, never passed
    assert quotas.report()["over_quota"].get("textract", 0) == 0  # no refusal: the queue kept within it
    assert admission.holders("textract") == {} and admission.waiting("textract") == []


def test_transcribe_queues_jobs_past_its_quota(pipeline, engines, fresh_counts):
    uploads = [pipeline.upload(wav_bytes(1.0 + n / 10, tone_hz=300 + n), name=f"talk-{n}.wav") for n in range(5)]
    manifests = [pipeline.wait(u.media_id, timeout=120) for u in uploads]
    assert [m["status"] for m in manifests] == ["SUCCEEDED"] * 5, [m.get("error") for m in manifests]
    assert all(m["transcript"]["text"] == TRANSCRIPT for m in manifests)
    assert fresh_counts.transcribe.max_running == 2 and fresh_counts.transcribe.max_queued >= 1
    jobs = pipeline.client("transcribe").list_transcription_jobs()["TranscriptionJobSummaries"]
    assert {j["TranscriptionJobStatus"] for j in jobs} == {"COMPLETED"}


def test_an_execution_stopped_mid_job_gives_its_slot_and_queue_place_back(pipeline, engines):
    """Two items hold both slots, a third waits (whichever ingest took first): stopping one holder mid-job and the
    waiter gives back the slot and the place; the other holder finishes."""
    engines.documents[1] = {1: ["Scanned form"]}
    with jobs_lasting(20.0):  # long enough that both holders still hold when the third arrives, even under load
        uploads = {u.media_id: u for u in (pipeline.upload(scanned(n), name=f"stop-{n}.pdf") for n in (100, 101, 102))}
        until(lambda: len(admission.holders("textract")) == 2 and len(admission.waiting("textract")) == 1,
              timeout=90, what="two holders and one waiting")
        stopped_holder, finishing = sorted(admission.holders("textract"))
        [waiter] = admission.waiting("textract")
        assert {stopped_holder, finishing, waiter} == set(uploads)
        sfn = pipeline.client("stepfunctions")
        for media_id in (stopped_holder, waiter):
            sfn.stop_execution(executionArn=pipeline.execution_arn(media_id), error="Stopped", cause="by a test")
        until(lambda: stopped_holder not in admission.holders("textract") and admission.waiting("textract") == [],
              what="the stopped items' slot and place given back")
    assert pipeline.wait(finishing, timeout=60)["status"] == "SUCCEEDED"
    until(lambda: admission.holders("textract") == {}, what="every slot back")
    described = [sfn.describe_execution(executionArn=pipeline.execution_arn(m)) for m in (stopped_holder, waiter)]
    statuses = {d["status"] for d in described}
    assert statuses == {"ABORTED"}, [(d["status"], d.get("error"), d.get("cause")) for d in described]


def test_a_slot_whose_release_was_lost_returns_when_its_lease_ends(pipeline, engines):
    """Two slots held by items whose callbacks never arrive: the next item waits, then the scheduled sweep gives it
    a slot once their leases run out."""
    engines.documents[1] = {1: ["Scanned form"]}
    for ghost in ("lost-callback-1", "lost-callback-2"):
        assert admission.acquire("textract", ghost, limit=2, lease_seconds=3)
    upload = pipeline.upload(scanned(200), name="after-the-lost.pdf")
    until(lambda: admission.waiting("textract") == [upload.media_id], what="the item waiting")
    manifest = pipeline.wait(upload.media_id, timeout=60)
    assert manifest["status"] == "SUCCEEDED"
    assert admission.holders("textract") == {}


def test_a_dispatcher_that_dies_before_starting_the_job_leaves_the_item_first_in_line(pipeline, engines):
    """The slot is taken, then the dispatcher dies (a crash, a timeout): the item keeps its place and its slot, and
    the next dispatch starts its job."""
    engines.documents[1] = {1: ["Scanned form"]}
    calls = []

    def dies(waiter):
        calls.append(waiter.media_id)
        raise RuntimeError("the dispatcher's sandbox was torn down")

    admission.enqueue("textract", "dispatcher-crash", {"ocr_input_key": "results/none/ocr-input.pdf"})
    with pytest.raises(RuntimeError):
        admission.dispatch("textract", 2, 60, dies)
    assert calls == ["dispatcher-crash"]
    assert "dispatcher-crash" in admission.holders("textract")
    assert admission.waiting("textract") == ["dispatcher-crash"]
    started = admission.dispatch("textract", 2, 60, lambda waiter: {"job_id": f"job-of-{waiter.media_id}"})
    assert started == {"dispatcher-crash": {"job_id": "job-of-dispatcher-crash"}}
    assert admission.waiting("textract") == []
    assert admission.release("textract", "dispatcher-crash") and admission.holders("textract") == {}


@contextlib.contextmanager
def faults(spec: str, seed: int = 7):
    capacity = quotas.current()
    capacity.faults = quotas.Faults.parse(spec, seed)
    capacity.random.seed(seed)
    capacity.injected.clear()
    try:
        yield capacity
    finally:
        capacity.faults = quotas.Faults()


def test_every_item_succeeds_through_throttling_and_server_errors(pipeline, engines):
    """30 % of every AI-service call throttled and 5 % of S3 and DynamoDB calls failing with a 5xx: botocore's retries
    inside a step and the state machine's Retry across attempts carry every item through."""
    from tests.document_factory import image_bytes, text_pdf

    engines.documents[1] = {1: ["Scanned form"]}
    with faults("transcribe=0.3,textract=0.3,bedrock-runtime=0.3,comprehend=0.3,s3=0.05,dynamodb=0.05") as capacity:
        uploads = [pipeline.upload(wav_bytes(1.5, tone_hz=500), name="faulty-talk.wav"),
                   pipeline.upload(image_bytes(("Receipt 77",)), name="faulty-receipt.png"),
                   pipeline.upload(scanned(300), name="faulty-scan.pdf"),
                   pipeline.upload(text_pdf([["A born-digital page"]]), name="faulty-text.pdf")]
        manifests = [pipeline.wait(u.media_id, timeout=180) for u in uploads]
        injected = dict(capacity.injected)
    assert [m["status"] for m in manifests] == ["SUCCEEDED"] * 4, [m.get("error") for m in manifests]
    assert manifests[0]["transcript"]["text"] == TRANSCRIPT
    assert manifests[2]["text"]["content"] == "Scanned form"
    per_service = {k: v for k, v in injected.items() if ":" not in k}
    assert sum(per_service.values()) >= 3 and set(per_service) <= {"s3", "dynamodb", "transcribe", "textract",
                                                                     "bedrock-runtime", "comprehend"}, injected
