"""What orchestration costs next to the AI services, per media type, measured on the emulator.

    .venv/bin/python benchmarks/cost_table.py [--json] [--region us-east-1] [--video-minutes 60]

Each item runs the real path (the ASL, the handlers, IAM enforced) on the emulator, with deterministic stand-ins
behind the AI APIs so that the functions' times are their own and not an offline engine's: Transcribe answers with
a transcript of 150 words a minute over the audio's whole length, Textract with one block set per page, Bedrock
with a fixed JSON answer (its token counts are the emulator's: the prompt's length / 4), priced as MODEL_ID. The media
are synthesized:

    1-page image          a PNG with text                      sync Textract
    10-page scan          a PDF of 10 scanned pages            async Textract (StartDocumentTextDetection + SNS)
    300-page text PDF     a PDF with a text layer              no OCR; Comprehend on its text
    5-minute audio        a 5-minute WAV                       Transcribe
    1-hour video          64x48 at 1 fps with a tone, 1 h     Fargate worker (a local process) + Transcribe

Every number comes from the manifest's `cost` section, which finalize counted (media_pipeline.cost): from the
item's own execution history for a Standard execution, from the runs its steps recorded for an Express one (which
has no history). The functions' durations are the emulator's (this machine, 2 shared cores), the Fargate task's the
local worker process's (at the one-minute minimum, unless longer). Bedrock's tokens are priced as MODEL_ID.

Each item runs twice, with the same counting code:
- before: the design as it was, every item in the Standard workflow and DetectDominantLanguage on the text's first
  100 KB (EXPRESS_STATE_MACHINE_ARN unset: ingest then starts everything Standard);
- after: images Textract reads synchronously in the Express workflow (media_pipeline/workflows.py), and
  DetectDominantLanguage on the first 5 KB (media_pipeline/language.py).
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from media_pipeline import cost, language  # noqa: E402
from media_pipeline.local import moto_gaps  # noqa: E402
from media_pipeline.local.runtime import LocalPipeline  # noqa: E402
from tests.document_factory import image_bytes, long_pdf, scanned_pdf, textract_blocks  # noqa: E402
from tests.media_factory import make_video, wav_bytes  # noqa: E402

MODEL_ID = "amazon.nova-lite-v1:0"
WORDS = ("the pipeline turns every upload into text captions and a short summary that people can search "
         "and read later on").split()
PAGE_LINES = ["Quarterly field report.", "Inspections were completed on schedule.", "No defects were found."]


def audio_seconds(data: bytes) -> float:
    import av

    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / 1_000_000


def transcribe(data: bytes, language: str | None) -> dict[str, Any]:
    """A Transcribe document with 150 words a minute over the whole audio."""
    seconds = audio_seconds(data)
    count = max(1, int(seconds / 60 * 150))
    step = seconds / count
    items, words = [], []
    for i in range(count):
        word = WORDS[i % len(WORDS)]
        words.append(word)
        items.append({"id": i, "type": "pronunciation", "start_time": f"{i * step:.2f}",
                      "end_time": f"{(i + 1) * step:.2f}", "alternatives": [{"confidence": "0.99", "content": word}]})
    return {"jobName": "stand-in", "status": "COMPLETED", "results": {
        "language_code": "en-US", "transcripts": [{"transcript": " ".join(words)}], "items": items,
        "audio_segments": []}}


def textract(document: bytes) -> list[dict[str, Any]]:
    pages = 1
    if document[:5] == b"%PDF-":
        from media_pipeline.pdf_text_layer import open_pdf  # PDFium is not thread-safe: its lock

        with open_pdf(document) as pdf:
            pages = len(pdf)
    return textract_blocks({page: PAGE_LINES for page in range(1, pages + 1)})


def bedrock(messages: list, system: list, config: dict) -> str:
    return json.dumps({"title": "Field report", "summary": "The inspections were completed on schedule.",
                       "keywords": ["inspection", "report"]})


def comprehend_language(text: str) -> dict[str, Any]:
    return {"Languages": [{"LanguageCode": "en", "Score": 0.99}]}


def media(workdir: Path, video_minutes: float) -> list[tuple[str, str, bytes]]:
    video = make_video(workdir / "long.mp4", video_minutes * 60, width=64, height=48, fps=1)
    pdf, _ = long_pdf(300)
    return [("1-page image", "scan.png", image_bytes(PAGE_LINES)),
            ("10-page scan", "scan-10.pdf", scanned_pdf([PAGE_LINES] * 10)),
            ("300-page PDF, text layer", "report-300.pdf", pdf),
            ("5-minute audio", "talk-5min.wav", wav_bytes(300)),
            (f"{video_minutes:g}-minute video", "video-long.mp4", video.read_bytes())]


def entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def priced_as_model(section: dict[str, Any], manifest: dict[str, Any], region: str) -> dict[str, Any]:
    """The manifest's cost section with its Bedrock tokens priced as MODEL_ID (the emulator's extractive stand-in has
    no price); the orchestration is finalize's count, untouched."""
    manifest = json.loads(json.dumps(manifest))
    if "enrichment" in manifest:
        manifest["enrichment"]["model"] = MODEL_ID
    ai = cost.cost_section(manifest, None, region=region)
    section = json.loads(json.dumps(section))
    section["ai"], section["ai_total"] = ai["ai"], ai["ai_total"]
    section["total"] = round(section["ai_total"] + section["orchestration_total"], 8)
    section["orchestration_share"] = (round(section["orchestration_total"] / section["ai_total"], 4)
                                      if section["ai_total"] else None)
    return section


def row(label: str, section: dict[str, Any], path: list[str]) -> dict[str, Any]:
    return {"item": label, "workflow": section.get("workflow", "standard"), "ai": section["ai_total"],
            "orchestration": section["orchestration_total"], "share": section["orchestration_share"],
            "transitions": section["units"].get("state_transitions", 0), "states_entered": len(path),
            "ai_by_service": section["ai"], "orchestration_by_part": section["orchestration"],
            "lambda_requests": section["units"]["lambda_requests"],
            "lambda_gb_seconds": section["units"]["lambda_gb_seconds"], "path": path}


# The design before (as on main): every item in the Standard workflow, DetectDominantLanguage on the first 100 KB.
BEFORE = {"environment": {"EXPRESS_STATE_MACHINE_ARN": ""}, "language_sample_bytes": 100_000}
AFTER = {"environment": {}, "language_sample_bytes": language.SAMPLE_BYTES}


def run_design(design: dict[str, Any], items: list[tuple[str, str, bytes]], region: str) -> list[dict[str, Any]]:
    """Each item through the pipeline as the design configures it; the rows from the manifests' cost sections."""
    rows = []
    language.SAMPLE_BYTES = design["language_sample_bytes"]  # the functions run in this process
    try:
        with LocalPipeline(mode="server", engines=False, environment=design["environment"]) as pipeline:
            moto_gaps.install_ai_engines(transcribe=transcribe, textract=textract, bedrock=bedrock,
                                         comprehend_language=comprehend_language)
            for label, name, body in items:
                began = time.perf_counter()
                upload = pipeline.upload(body, name=name)
                manifest = pipeline.wait(upload.media_id, timeout=900)
                while pipeline.execution_status(upload.media_id) == "RUNNING":
                    time.sleep(0.05)
                path = entered(pipeline.history(upload.media_id))
                section = priced_as_model(manifest["cost"], manifest, region)
                rows.append({**row(label, section, path), "status": manifest["status"],
                             "seconds": round(time.perf_counter() - began, 1), "usage": manifest.get("usage", {})})
                print(f"{label}: {manifest['status']} in {rows[-1]['seconds']} s ({rows[-1]['workflow']})",
                      file=sys.stderr)
    finally:
        language.SAMPLE_BYTES = AFTER["language_sample_bytes"]
    return rows


def crossover(measured: list[tuple[float, float]], region: str, *, startup_seconds: float) -> dict[str, Any]:
    """Where the Fargate worker becomes cheaper than extract_media in Lambda, from measured extraction times.

    measured: (minutes of video, seconds the worker took: benchmarks/video_worker.py). Lambda bills the extraction
    time at extract_media's memory; Fargate bills it (plus the task's start-up: image pull and boot, billed from
    the pull) at the worker's vCPU and memory, one minute at least. Both routes take the same transitions."""
    from media_pipeline import steps

    _, price = cost.prices_for(region)
    lambda_gb = steps.BY_NAME["extract_media"].memory_mib / 1024
    lambda_per_second = lambda_gb * price["lambda"]["gb_second"]
    vcpu, memory_gb = cost.DEFAULT_WORKER[0] / 1024, cost.DEFAULT_WORKER[1] / 1024
    fargate_per_second = (vcpu * price["fargate"]["vcpu_hour"] + memory_gb * price["fargate"]["gb_hour"]) / 3600
    # Lambda(w) = lambda_per_second * w; Fargate(w) = fargate_per_second * max(60, w + startup)
    breakeven = fargate_per_second * 60 / lambda_per_second  # where Lambda reaches Fargate's one-minute minimum
    if breakeven + startup_seconds > 60:  # past the minimum: Fargate bills the extraction and its start-up
        breakeven = fargate_per_second * startup_seconds / (lambda_per_second - fargate_per_second)
    n = len(measured)
    mean_t, mean_w = sum(m for m, _ in measured) / n, sum(w for _, w in measured) / n
    slope = sum((m - mean_t) * (w - mean_w) for m, w in measured) / sum((m - mean_t) ** 2 for m, _ in measured)
    intercept = mean_w - slope * mean_t
    return {"lambda_usd_per_second": lambda_per_second, "fargate_usd_per_second": fargate_per_second,
            "startup_seconds": startup_seconds, "breakeven_extraction_seconds": round(breakeven, 1),
            "seconds_per_minute_of_video": round(slope, 4), "intercept_seconds": round(intercept, 2),
            "breakeven_video_minutes": round((breakeven - intercept) / slope, 1) if slope > 0 else None,
            "measured": measured}


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--json", action="store_true")
    options.add_argument("--region", default="us-east-1")
    options.add_argument("--video-minutes", type=float, default=60)
    options.add_argument("--extraction", nargs="+", default=["1=0.3", "10=1.6", "60=8.8"], metavar="MIN=SECONDS",
                         help="the video worker's measured time per video length (benchmarks/video_worker.py)")
    options.add_argument("--only-crossover", action="store_true", help="skip the emulator runs")
    args = options.parse_args()
    measured = [(float(m), float(s)) for m, s in (pair.split("=") for pair in args.extraction)]
    crossovers = [crossover(measured, args.region, startup_seconds=s) for s in (0, 30)]
    if args.only_crossover:
        print(json.dumps(crossovers, indent=2))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        items = media(Path(tmp), args.video_minutes)
        before = run_design(BEFORE, items, args.region)
        after = run_design(AFTER, items, args.region)
    if args.json:
        print(json.dumps({"before": before, "after": after, "crossover": crossovers}, indent=2))
        return 0
    print(f"prices: {cost.price_table()['as_of']}, {args.region}; model {MODEL_ID}")
    print(f"{'':26} | {'before: all Standard, language on 100 KB':^51} | {'after: images Express, language on 5 KB':^60}")
    header = f"{'AI $':>10} {'orch. $':>10} {'share':>7} {'trans.':>6} {'GB-s':>6}"
    print(f"{'item':26} | {header}   | {'workflow':8} {header}")
    for b, a in zip(before, after):
        print(f"{b['item']:26} | {b['ai']:10.6f} {b['orchestration']:10.6f} {b['share']:7.1%} {b['transitions']:6d} "
              f"{b['lambda_gb_seconds']:6.3f}   | {a['workflow']:8} {a['ai']:10.6f} {a['orchestration']:10.6f} "
              f"{a['share']:7.1%} {a['transitions']:6d} {a['lambda_gb_seconds']:6.3f}")
    for label, rows in (("before", before), ("after", after)):
        for r in rows:
            print(f"  {label} {r['item']}: AI {r['ai_by_service']}; orchestration {r['orchestration_by_part']}; "
                  f"{r['lambda_requests']} Lambda requests; path {' > '.join(r['path'])}")
    for c in crossovers:
        print(f"Fargate vs Lambda for video extraction (start-up {c['startup_seconds']:g} s): Lambda "
              f"${c['lambda_usd_per_second']:.8f}/s, Fargate ${c['fargate_usd_per_second']:.8f}/s; equal at "
              f"{c['breakeven_extraction_seconds']} s of extraction = {c['breakeven_video_minutes']} min of video at the "
              f"measured {c['seconds_per_minute_of_video']} s per minute (+{c['intercept_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
