"""Start-up of the offline run, phase by phase: what a user waits for before the first upload.

    python benchmarks/startup.py [--repeat N] [--json]

Each repeat starts a fresh LocalPipeline in a fresh process (server mode, engines installed but not warmed, as
`media-pipeline process` does before its first upload) and times the phases LocalPipeline.start reports
(on_phase): the registry check, the emulator server, loading the functions and engines, building the emulated
account. Also, where the runtime does it in the background after start (functions' modules imported, as Lambda's
INIT), when that finished; and the process's peak resident memory once started.

The parsed botocore/moto data files are cached in a folder (media_pipeline/local/service_models.py): --cold empties
a private cache folder before each run, to time a first start on a machine.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_start() -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from media_pipeline.local.runtime import LocalPipeline

    marks: list[tuple[str, float]] = [("import", time.perf_counter())]
    began = time.perf_counter()
    pipeline = LocalPipeline(mode="server", on_phase=lambda text: marks.append((text, time.perf_counter())))
    pipeline.start()
    ended = time.perf_counter()
    initialized = getattr(pipeline, "_functions_initialized", None)
    if initialized is not None:
        initialized.wait(60)
    background_ended = time.perf_counter()
    pipeline.stop()
    phases: dict[str, float] = {}
    points = marks[1:] + [("end", ended)]
    phases["registry and snapshot checks"] = points[0][1] - began
    for (name, start), (_, stop) in zip(points, points[1:]):
        phases[name.split(":")[0]] = stop - start
    phases["total"] = ended - began
    phases["functions initialized (background, after start)"] = background_ended - began
    phases["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return phases


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--repeat", type=int, default=3)
    options.add_argument("--json", action="store_true")
    options.add_argument("--cold", action="store_true", help="an empty data-file cache before each run")
    options.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = options.parse_args()
    if args.one:
        print(json.dumps(one_start()))
        return 0
    runs = []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="media-pipeline-cache-") as cache:
            env = {**os.environ, "MEDIA_PIPELINE_CACHE": cache} if args.cold else None
            runs.append(json.loads(subprocess.run([sys.executable, __file__, "--one"], cwd=ROOT, capture_output=True,
                                                  text=True, check=True, env=env).stdout.strip().splitlines()[-1]))
    summary = {name: statistics.median(run[name] for run in runs if name in run) for name in runs[0]}
    if args.json:
        print(json.dumps({"runs": runs, "median": summary}, indent=2))
    else:
        for name, value in summary.items():
            print(f"{name:80} {value:8.2f}{' MiB' if name.endswith('mib') else ' s'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
