"""The OCR engine's working memory with and without ONNX Runtime's layout optimisations for its detector.

    python benchmarks/ocr_memory.py [--json]

Each setting runs in a fresh process (the engine is loaded, then each sample read once): the peak resident memory
above the loaded engine while a document is read (VmHWM after clearing it), the time, and the text. The engine uses
ORT_ENABLE_EXTENDED (media_pipeline/local/engines/ocr.py); ORT_ENABLE_ALL is RapidOCR's own setting.
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
LEVELS = ["ORT_ENABLE_ALL", "ORT_ENABLE_EXTENDED"]


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def child(level: str) -> None:
    sys.path.insert(0, str(ROOT))
    import onnxruntime

    from media_pipeline.local.engines import limit_allocator_arenas, ocr

    limit_allocator_arenas()
    ocr.engine().text_det.session.session = onnxruntime.InferenceSession(
        str(ocr._detector_model(ocr.engine())), sess_options=_options(onnxruntime, level),
        providers=["CPUExecutionProvider"])
    rows = []
    for name in SAMPLES:
        document = (ROOT / "samples" / name).read_bytes()
        base = status("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current resident size
        started = time.perf_counter()
        text = ocr.text_of(ocr.detect_text(document))
        rows.append({"sample": name, "peak_mib": status("VmHWM") - base, "seconds": round(time.perf_counter() - started, 2),
                     "text": text})
    print(json.dumps(rows))


def _options(onnxruntime, level: str):  # type: ignore[no-untyped-def]
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 4
    options.enable_cpu_mem_arena = False
    options.graph_optimization_level = getattr(onnxruntime.GraphOptimizationLevel, level)
    return options


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", choices=LEVELS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return 0
    results = {level: json.loads(subprocess.run([sys.executable, __file__, "--child", level], check=True,
                                                capture_output=True, text=True).stdout.splitlines()[-1])
               for level in LEVELS}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{'sample':22} {'ALL peak MiB':>13} {'EXTENDED peak MiB':>18} {'ALL s':>6} {'EXTENDED s':>11}  same text")
    for before, after in zip(*results.values()):
        print(f"{before['sample']:22} {before['peak_mib']:13} {after['peak_mib']:18} {before['seconds']:6} "
              f"{after['seconds']:11}  {before['text'] == after['text']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
