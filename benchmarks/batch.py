"""A batch of the bundled samples through `media-pipeline process` offline: start-up, throughput, the pipeline's
own overhead over the engines' time, and the peak memory of the whole process tree.

    python benchmarks/batch.py [--items 40] [--json]

The inputs are the files of samples/ repeated (under distinct names) up to --items. A child process runs the CLI
as a user does (`media-pipeline process DIR --out OUT --json`, engines warmed in the background, as the command
does); this process watches it. Reported:

- start_seconds: LocalPipeline.start, from the registry checks to the emulated account ready for uploads;
- run_seconds: from then until the last item's manifest (uploads and processing); items_per_minute from it;
- total_seconds: the command from its first line to its exit (results saved, emulator stopped);
- engine_seconds: the sum of every engine call's duration (speech, OCR, summariser, language identification, PII
  patterns), as the engines time themselves (media_pipeline.local.engines.timed); calls overlap when items run
  side by side, so this can exceed the wall time;
- engine_busy_seconds: the wall time during which at least one engine call was running (the union of the calls);
- overhead: (run_seconds − engine_busy_seconds) / engine_busy_seconds, the wall time in which no engine works
  (the emulator, the event path, the functions' own work, waiting and polling), relative to the time engines work.
  A pipeline that adds nothing to its engines scores 0;
- peak_rss_mib: the largest sum of the resident memory of the command and all its child processes (the video
  worker, ffmpeg), polled every 20 ms from /proc; peak_rss_main_mib: the command's own process alone.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SUFFIXES = (".flac", ".png", ".pdf", ".mp4")
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def samples() -> list[Path]:
    return sorted(p for p in (ROOT / "samples").iterdir() if p.is_file() and p.suffix in SAMPLE_SUFFIXES)


def make_inputs(folder: Path, count: int) -> list[Path]:
    found = samples()
    made = []
    for index in range(count):
        source = found[index % len(found)]
        target = folder / f"{index:03d}-{source.name}"
        shutil.copyfile(source, target)
        made.append(target)
    return made


# ---- the child: the CLI with its phases and engine calls recorded ---------------------------------------------------

def child(inputs: str, out: str, report: str) -> int:
    sys.path.insert(0, str(ROOT))
    intervals: list[tuple[float, float]] = []
    lock = threading.Lock()
    from media_pipeline.local import engines

    measured = engines.timed

    @contextlib.contextmanager
    def timed(engine: str) -> Iterator[None]:  # the engines' own timer, with each call's interval kept
        began = time.perf_counter()
        try:
            with measured(engine):
                yield
        finally:
            with lock:
                intervals.append((began, time.perf_counter()))

    engines.timed = timed  # before the engine modules import it
    from media_pipeline.cli import main, runs
    from media_pipeline.local.runtime import LocalPipeline

    marks: dict[str, float] = {}
    start, wait = LocalPipeline.start, runs.wait_for_manifests

    def timed_start(self: Any) -> Any:
        marks["start_began"] = time.perf_counter()
        try:
            return start(self)
        finally:
            marks["started"] = time.perf_counter()

    def timed_wait(*args: Any, **kwargs: Any) -> Any:
        try:
            return wait(*args, **kwargs)
        finally:
            marks["finished"] = time.perf_counter()

    LocalPipeline.start = timed_start  # type: ignore[method-assign]
    runs.wait_for_manifests = timed_wait
    stdout = io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(stdout):
        code = main(["process", inputs, "--out", out, "--json"])
    ended = time.perf_counter()
    manifests = json.loads(stdout.getvalue() or "[]")
    run = marks["finished"] - marks["started"]
    busy = union(intervals)
    statuses: dict[str, int] = {}
    for manifest in manifests:
        statuses[manifest.get("status", "?")] = statuses.get(manifest.get("status", "?"), 0) + 1
    Path(report).write_text(json.dumps({
        "exit_code": code, "items": len(manifests), "statuses": statuses,
        "start_seconds": marks["started"] - marks["start_began"], "run_seconds": run,
        "total_seconds": ended - began, "items_per_minute": 60 * len(manifests) / run if run else 0.0,
        "engine_seconds": sum(b - a for a, b in intervals), "engine_busy_seconds": busy,
        "engine_calls": len(intervals), "overhead": (run - busy) / busy if busy else None,
        "engines": {name: round(v["seconds"], 3) for name, v in engines.timings().items()},
        "code": str(Path(engines.__file__).resolve().parents[2]),
    }))
    return 0


def union(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


# ---- the parent: the child's process tree watched --------------------------------------------------------------------

def tree_rss(root: int) -> tuple[int, int]:
    """(bytes resident in `root` and all its descendants, in `root` alone), from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry)
        children.setdefault(int(fields[1]), []).append(pid)  # fields[1]: the parent's pid
        rss[pid] = int(fields[21]) * PAGE  # fields[21]: resident pages
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total, rss.get(root, 0)


def run_batch(count: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="media-pipeline-batch-") as folder:
        inputs, out, report = Path(folder) / "inputs", Path(folder) / "out", Path(folder) / "report.json"
        inputs.mkdir()
        make_inputs(inputs, count)
        process = subprocess.Popen([sys.executable, __file__, "--child", str(inputs), str(out), str(report)],
                                   cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        peak_tree = peak_main = 0
        while process.poll() is None:
            tree, main = tree_rss(process.pid)
            peak_tree, peak_main = max(peak_tree, tree), max(peak_main, main)
            time.sleep(0.02)
        errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if not report.exists():
            raise SystemExit(f"the batch failed (exit {process.returncode}):\n{errors[-4000:]}")
        result = json.loads(report.read_text())
    # A non-zero exit after the report: the process ended while a timed-out invocation's engine was still running.
    result.update(peak_rss_mib=peak_tree / 2**20, peak_rss_main_mib=peak_main / 2**20,
                  process_exit=process.returncode)
    return result


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--items", type=int, default=40, help="items in the batch (the samples repeated)")
    options.add_argument("--json", action="store_true", help="print the results as JSON")
    options.add_argument("--child", nargs=3, metavar=("INPUTS", "OUT", "REPORT"), help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.child:
        return child(*args.child)
    result = run_batch(args.items)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"{result['items']} items {result['statuses']} (exit {result['exit_code']})")
    for name in ("start_seconds", "run_seconds", "total_seconds", "items_per_minute", "engine_seconds",
                 "engine_busy_seconds", "overhead", "peak_rss_mib", "peak_rss_main_mib"):
        value = result[name]
        print(f"{name:22} {value:10.3f}" if isinstance(value, float) else f"{name:22} {value}")
    print(f"{'engines':22} {result['engines']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
