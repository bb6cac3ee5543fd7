"""Cold-start cost of each handler module: import time in a fresh interpreter, next to `import boto3`.

Each figure is the median of several fresh interpreters, measured in the same run, so the ratios
are comparable even on a noisy machine. Usage: .venv/bin/python benchmarks/import_times.py [--runs N]
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROBE = """
import gc, sys, time
sys.path.insert(0, {root!r})
start = time.perf_counter()
{statement}
elapsed = time.perf_counter() - start
clients = 0
if "botocore.client" in sys.modules:
    base = sys.modules["botocore.client"].BaseClient
    clients = sum(isinstance(o, base) for o in gc.get_objects())
print(elapsed, clients)
"""


def measure(statement: str, runs: int) -> tuple[float, int]:
    times, clients = [], 0
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE.format(root=str(ROOT), statement=statement)],
                             capture_output=True, text=True, check=True, cwd=ROOT,
                             env={"POWERTOOLS_TRACE_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
                                  "PATH": "/usr/bin:/bin"}).stdout.split()
        times.append(float(out[0]))
        clients = max(clients, int(out[1]))
    return statistics.median(times), clients


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    baseline, _ = measure("import boto3", args.runs)
    print(f"{'module':<34}{'import ms':>10}{'x boto3':>9}{'clients':>9}")
    print(f"{'boto3':<34}{baseline * 1000:>10.1f}{1.0:>9.2f}{0:>9}")
    for folder in sorted(p for p in (ROOT / "functions").iterdir() if (p / "handler.py").exists()):
        elapsed, clients = measure(f"import functions.{folder.name}.handler", args.runs)
        print(f"{'functions/' + folder.name:<34}{elapsed * 1000:>10.1f}{elapsed / baseline:>9.2f}{clients:>9}")


if __name__ == "__main__":
    main()
