"""A burst of uploads against service quotas and injected faults: every item must end SUCCEEDED, and no quota may be
passed.

    python benchmarks/burst.py --items 200 --transcribe-quota 5 --textract-quota 3 --job-seconds 1
    python benchmarks/burst.py --items 200 --transcribe-quota 5 --textract-quota 3 --throttle 0.3 --server-errors 0.05

Audio, images and scanned PDFs in turn are uploaded at once to the emulated bucket; the event path, the ASL on moto's
engine, every handler, Transcribe's deferred execution and the pipeline's Textract queue are the real ones. The AI
engines are fast stand-ins (a fixed Transcribe transcript, Textract blocks naming the page; the extractive summary
and language identification are the offline engines), each Transcribe and Textract job lasting at least
--job-seconds. --throttle answers that share of every AI-service call with the service's throttling error,
--server-errors that share of S3 and DynamoDB calls with a 5xx. The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline.local import moto_gaps, quotas  # noqa: E402
from media_pipeline.local.runtime import LocalPipeline  # noqa: E402

KINDS = ("audio", "image", "scanned")
TRANSCRIPT = ROOT / "tests" / "data" / "transcribe-two-sentences.json"


def media(kind: str, n: int) -> tuple[bytes, str]:
    """A small distinct file of each kind."""
    from tests.document_factory import image_bytes, scanned_pdf
    from tests.media_factory import wav_bytes

    if kind == "audio":
        return wav_bytes(1.0 + (n % 7) / 10, tone_hz=200 + n), f"burst-{n:04d}.wav"
    if kind == "image":
        return image_bytes((f"Receipt {n}", "Total 12.50")), f"burst-{n:04d}.png"
    return scanned_pdf([[f"Scanned form {n}", "Signed and dated"]]), f"burst-{n:04d}.pdf"


def stand_in_engines() -> None:
    from media_pipeline.local.engines import extractive, language
    from tests.document_factory import textract_blocks

    transcript = json.loads(TRANSCRIPT.read_text())

    def transcribe(audio: bytes, language_code: str | None) -> dict[str, Any]:
        return json.loads(json.dumps(transcript))

    def textract(document: bytes) -> list[dict[str, Any]]:
        pages = 1
        if document[:5] == b"%PDF-":
            from media_pipeline.pdf_text_layer import open_pdf  # PDFium is not thread-safe: its lock

            with open_pdf(document) as pdf:
                pages = len(pdf)
        return textract_blocks({page: [f"Page {page} of the document", "Signed and dated"] for page in range(1, pages + 1)})

    moto_gaps.install_ai_engines(transcribe=transcribe, textract=textract, bedrock=extractive.converse,
                                 comprehend_language=language.detect_dominant_language)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else 0.0


def run(*, items: int, transcribe_quota: int, textract_quota: int, throttle: float = 0.0, server_errors: float = 0.0,
        seed: int = 0, job_seconds: float = 1.0, timeout: float = 1800.0, mode: str = "mock") -> dict[str, Any]:
    limits = quotas.Quotas(transcribe_concurrent_jobs=transcribe_quota, textract_concurrent_jobs=textract_quota,
                           min_job_seconds=job_seconds)
    spec = ",".join([f"{s}={throttle}:throttle" for s in ("transcribe", "textract", "bedrock-runtime", "comprehend")
                     if throttle] + [f"{s}={server_errors}:5xx" for s in ("s3", "dynamodb") if server_errors])
    files = [media(KINDS[n % len(KINDS)], n) for n in range(items)]
    with LocalPipeline(mode=mode, engines=False, quotas=limits) as pipeline:
        stand_in_engines()
        capacity = quotas.current()
        capacity.faults = quotas.Faults.parse(spec, seed)  # from here on: the burst, not the account's set-up
        capacity.random.seed(seed)
        started = time.monotonic()
        uploaded: dict[str, tuple[float, str]] = {}
        for (body, name), n in zip(files, range(items)):
            upload = pipeline.upload(body, name=name)
            uploaded[upload.media_id] = (time.time(), KINDS[n % len(KINDS)])
        finished, slots_left = wait_for_executions(pipeline, set(uploaded), timeout)
        wall = time.monotonic() - started
        capacity.faults = quotas.Faults()  # reading the results is not part of the burst
        manifests = {media_id: pipeline.manifest(media_id) or {} for media_id in uploaded}
        statuses = {media_id: manifest.get("status", "MISSING") for media_id, manifest in manifests.items()}
        failures = Counter(f"{uploaded[m][1]}: {(manifest.get('error') or {}).get('code')}: "
                           f"{str((manifest.get('error') or {}).get('message'))[:300]}"
                           for m, manifest in manifests.items() if manifest.get("status") != "SUCCEEDED")
        report = quotas.report()
    latencies = [finished[m] - uploaded[m][0] for m in uploaded if m in finished]
    by_kind = {kind: [finished[m] - t for m, (t, k) in uploaded.items() if k == kind and m in finished] for kind in KINDS}
    return {
        "items": items, "succeeded": sum(s == "SUCCEEDED" for s in statuses.values()),
        "failed": sum(s != "SUCCEEDED" for s in statuses.values()),
        "failures": dict(failures),
        "transcribe_quota": transcribe_quota, "textract_quota": textract_quota,
        "max_concurrent_transcribe_jobs": report["max_concurrent_transcribe_jobs"],
        "max_concurrent_textract_jobs": report["max_concurrent_textract_jobs"],
        "max_queued_transcribe_jobs": report["max_queued_transcribe_jobs"],
        "latency_p50_s": round(percentile(latencies, 0.5), 2), "latency_p95_s": round(percentile(latencies, 0.95), 2),
        "latency_p50_s_by_kind": {k: round(percentile(v, 0.5), 2) for k, v in by_kind.items()},
        "wall_s": round(wall, 1), "throttle": throttle, "server_errors": server_errors, "seed": seed,
        "job_seconds": job_seconds,
        "retries_by_service": {"injected_faults": per_service(report["injected_faults"]),
                               "over_quota": per_service(report["over_quota"])},
        "calls_by_service": per_service(report["calls"]),
        "slots_left": slots_left,
    }


def per_service(counts: dict[str, int]) -> dict[str, int]:
    """Counts by service only (quotas.report() also counts by service:operation)."""
    return {k: v for k, v in sorted(counts.items()) if ":" not in k}


def wait_for_executions(pipeline: LocalPipeline, media_ids: set[str],
                        timeout: float) -> tuple[dict[str, float], dict[str, int]]:
    """media id -> when its execution stopped (epoch seconds), once every execution has ended; and the Textract
    slots still held and items still waiting then (both 0 when no slot leaked)."""
    from media_pipeline import admission

    sfn = pipeline.client("stepfunctions")
    finished: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=pipeline.state_machine_arn,
                                                                  statusFilter=status)
            for page in pages:
                for execution in page["executions"]:
                    if execution["name"] in media_ids and execution["name"] not in finished:
                        finished[execution["name"]] = execution["stopDate"].timestamp()
        for media_id in media_ids - set(finished):  # images run Express: not listed; their end is in their log
            if pipeline.execution_status(media_id) in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
                finished[media_id] = pipeline.history(media_id)[-1]["timestamp"].timestamp()
        if len(finished) == len(media_ids):
            break
        done = len(finished)
        print(f"{done}/{len(media_ids)} finished, {quotas.report()['transcribe_jobs_running']} Transcribe and "
              f"{quotas.report()['textract_jobs_running']} Textract jobs running", file=sys.stderr, flush=True)
        time.sleep(2.0)
    time.sleep(1.0)  # the last callbacks give their slots back
    return finished, {"textract_holders": len(admission.holders("textract")),
                      "textract_waiting": len(admission.waiting("textract"))}


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--items", type=int, default=200)
    options.add_argument("--transcribe-quota", type=int, default=5)
    options.add_argument("--textract-quota", type=int, default=3)
    options.add_argument("--throttle", type=float, default=0.0, help="share of AI-service calls throttled")
    options.add_argument("--server-errors", type=float, default=0.0, help="share of S3 and DynamoDB calls with a 5xx")
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--job-seconds", type=float, default=1.0, help="each Transcribe and Textract job lasts this")
    options.add_argument("--mode", choices=("mock", "server"), default="mock")
    args = options.parse_args()
    stdout, sys.stdout = sys.stdout, sys.stderr  # the functions log and flush metrics to stdout
    try:
        summary = run(items=args.items, transcribe_quota=args.transcribe_quota, textract_quota=args.textract_quota,
                      throttle=args.throttle, server_errors=args.server_errors, seed=args.seed,
                      job_seconds=args.job_seconds, mode=args.mode)
    finally:
        sys.stdout = stdout
    print(json.dumps(summary), flush=True)
    ok = (summary["failed"] == 0 and summary["max_concurrent_transcribe_jobs"] <= args.transcribe_quota
          and summary["max_concurrent_textract_jobs"] <= args.textract_quota and not any(summary["slots_left"].values()))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
