"""The OCR engine's working memory with glibc's dynamic mmap threshold and with the threshold the local mode fixes.

    python benchmarks/ocr_memory.py [--json]

Each setting runs in a fresh process: two malloc arenas as the local mode has them, the engine loaded, then each
sample read twice: the peak resident memory above the loaded engine while a document is read (VmHWM after clearing
it), the time, and whether the text is the same. "dynamic" is glibc's default, which raises the threshold after
the first large block is freed (up to 32 MB); "fixed" maps every block of 1 MiB or more on its own
(media_pipeline/local/engines/__init__.py, `limit_allocator_arenas`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ["scanned-page.png", "two-page-report.pdf", "contact-details.pdf"]
SETTINGS = ["dynamic", "fixed"]


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def child(setting: str) -> None:
    sys.path.insert(0, str(ROOT))
    from media_pipeline.local import engines
    from media_pipeline.local.engines import ocr

    libc = engines._glibc()
    if libc is not None:
        libc.mallopt(-8, 2)  # M_ARENA_MAX, as the local mode has it
        if setting == "fixed":
            libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    ocr.engine()
    rows = []
    for name in SAMPLES * 2:
        document = (ROOT / "samples" / name).read_bytes()
        base = status("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
        started = time.perf_counter()
        text = ocr.text_of(ocr.detect_text(document))
        rows.append({"sample": name, "peak_mib": status("VmHWM") - base, "after_mib": status("VmRSS"),
                     "seconds": round(time.perf_counter() - started, 2), "text": text})
    print(json.dumps(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    results = {setting: json.loads(subprocess.run([sys.executable, __file__, "--child", setting], check=True,
                                                  capture_output=True, text=True).stdout.splitlines()[-1])
               for setting in SETTINGS}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'sample':22} {'peak MiB dynamic':>17} {'fixed':>6} {'resident after: dynamic':>24} {'fixed':>6} "
          f"{'s dynamic':>10} {'fixed':>6}  same text")
    for before, after in zip(*results.values()):
        print(f"{before['sample']:22} {before['peak_mib']:17} {after['peak_mib']:6} {before['after_mib']:24} "
              f"{after['after_mib']:6} {before['seconds']:10} {after['seconds']:6}  {before['text'] == after['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
