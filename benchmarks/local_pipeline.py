"""Offline pipeline benchmark: per sample, end-to-end time, time inside the engines, and the rest (overhead).

    python benchmarks/local_pipeline.py [--json] [--repeat N] [--no-iam]

--no-iam runs the emulator without its IAM checks, to measure what authorizing every call costs.

Overhead = end-to-end − engine time: the emulator, the event path (S3 → EventBridge → SQS → ingest → Step
Functions), the functions' own work (sniffing, transcript formats, manifests) and the polling of the runner.
Samples run one at a time after the models are loaded and one untimed pass over every sample (first-call
imports and compilations), so the engine time is the item's own.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline.local import engines  # noqa: E402
from media_pipeline.local.runtime import LocalPipeline, warm_engines  # noqa: E402


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--json", action="store_true", help="print the results as JSON")
    options.add_argument("--repeat", type=int, default=1, help="runs per sample (the median is reported)")
    options.add_argument("--no-iam", action="store_true", help="do not authorize the calls (for comparison only)")
    args = options.parse_args()
    samples = sorted(p for p in (ROOT / "samples").iterdir() if p.is_file() and p.suffix not in (".py", ".md"))

    started = time.perf_counter()
    pipeline = LocalPipeline(mode="server", enforce_iam=not args.no_iam).start()
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    warm_engines()
    load_seconds = time.perf_counter() - started
    for sample in samples:  # first calls import and compile (schemas, handlers' modules): not per-item costs
        pipeline.process(sample, timeout=600, poll_seconds=0.05)
    rows = []
    try:
        for sample in samples:
            totals, engine_times = [], []
            for _ in range(args.repeat):
                engines.reset_timings()
                began = time.perf_counter()
                manifest = pipeline.process(sample, timeout=600, poll_seconds=0.05)
                totals.append(time.perf_counter() - began)
                engine_times.append(engines.total_engine_seconds())
            total, engine = statistics.median(totals), statistics.median(engine_times)
            rows.append({"sample": sample.name, "status": manifest["status"], "total_seconds": round(total, 3),
                         "engine_seconds": round(engine, 3), "overhead_seconds": round(total - engine, 3),
                         "engine_ratio": round(engine / total, 3), "overhead_ratio": round((total - engine) / total, 3),
                         "engines": {k: round(v["seconds"], 3) for k, v in engines.timings().items()}})
    finally:
        pipeline.stop()
    summary = {"emulator_build_seconds": round(build_seconds, 3), "model_load_seconds": round(load_seconds, 3),
               "iam": not args.no_iam, "samples": rows}
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"emulated account built in {build_seconds:.2f} s; models loaded in {load_seconds:.2f} s")
    print(f"{'sample':26} {'status':10} {'total s':>8} {'engine s':>9} {'overhead s':>11} {'engine':>7} {'overhead':>9}")
    for row in rows:
        print(f"{row['sample']:26} {row['status']:10} {row['total_seconds']:8.2f} {row['engine_seconds']:9.2f} "
              f"{row['overhead_seconds']:11.2f} {row['engine_ratio']:7.0%} {row['overhead_ratio']:9.0%}")
    total = sum(r["total_seconds"] for r in rows)
    engine = sum(r["engine_seconds"] for r in rows)
    print(f"{'all':26} {'':10} {total:8.2f} {engine:9.2f} {total - engine:11.2f} {engine / total:7.0%} "
          f"{(total - engine) / total:9.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
