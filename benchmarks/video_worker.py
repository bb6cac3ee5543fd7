"""Wall time and peak memory of the video worker (`process_video`) for videos of different lengths.

Each length is generated once (64x48 at 1 fps with a tone: cheap codecs, so hours take seconds),
uploaded to a moto S3 server running in its own process, and processed by a fresh Python process
through the worker's code path (S3 range reads in, multipart uploads out). Peak RSS is that
process's own high-water mark (VmHWM), so the emulator's copy of the video is not counted. Flat peak memory
across lengths is the point: the video is streamed, never held whole.

Usage: .venv/bin/python benchmarks/video_worker.py [--minutes 10 120] [--workdir DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUCKET = "media-bucket"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto(port: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("moto server did not start")


def environment(endpoint: str) -> dict[str, str]:
    return {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1", "MEDIA_BUCKET": BUCKET,
            "JOBS_TABLE": "media-jobs", "RESULTS_PREFIX": "results/", "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM). ru_maxrss is not used: Linux carries it across exec
    from the parent, so a child would report the generator's peak instead of its own."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(key: str, media_id: str) -> None:
    """Runs in the measured process: imports, then the worker's process_video, then reports."""
    from media_pipeline.aws import client
    from media_pipeline.settings import Settings
    from media_pipeline.video import process_video

    client("s3").list_buckets()  # the baseline includes boto3's S3 model, which every run loads
    settings = Settings(media_bucket=BUCKET, jobs_table="media-jobs")
    baseline = peak_rss_mb()
    start = time.perf_counter()
    result = process_video(BUCKET, key, media_id, settings=settings)
    wall = time.perf_counter() - start
    print(json.dumps({"wall_seconds": round(wall, 2), "baseline_rss_mb": round(baseline, 1),
                      "peak_rss_mb": round(peak_rss_mb(), 1), "duration_seconds": result["duration_seconds"],
                      "audio_parts": len((result["audio"] or {}).get("parts", [])),
                      "thumbnails": len(result["thumbnail_keys"])}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 120])
    parser.add_argument("--workdir", type=Path, default=None, help="keep generated videos here (default: a temp dir)")
    parser.add_argument("--child", nargs=2, metavar=("KEY", "MEDIA_ID"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    sys.path.insert(0, str(ROOT))
    import boto3

    from tests.media_factory import make_video

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="video-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    env = environment(endpoint)
    server = start_moto(port)
    try:
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
        s3.create_bucket(Bucket=BUCKET)
        print(f"{'length':>8}{'size MB':>9}{'generate s':>12}{'process s':>11}{'x realtime':>12}"
              f"{'base RSS MB':>13}{'peak RSS MB':>13}{'growth MB':>11}{'parts':>7}{'thumbs':>8}")
        for minutes in args.minutes:
            path = workdir / f"bench-{minutes:g}min.mp4"
            started = time.perf_counter()
            if not path.exists():
                make_video(path, minutes * 60, width=64, height=48, fps=1, audio_codec="mp2",
                           audio_bit_rate=32_000)
            generated = time.perf_counter() - started
            key = f"uploads/{path.name}"
            s3.upload_file(str(path), BUCKET, key)
            out = subprocess.run([sys.executable, __file__, "--child", key, f"bench{int(minutes):04d}".ljust(32, "0")],
                                 env=env, capture_output=True, text=True, cwd=ROOT)
            if out.returncode:
                raise SystemExit(out.stderr)
            report = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{minutes:>6g} m{path.stat().st_size / 1e6:>9.1f}{generated:>12.1f}{report['wall_seconds']:>11.1f}"
                  f"{minutes * 60 / report['wall_seconds']:>12.0f}{report['baseline_rss_mb']:>13.1f}"
                  f"{report['peak_rss_mb']:>13.1f}{report['peak_rss_mb'] - report['baseline_rss_mb']:>11.1f}{report['audio_parts']:>7}{report['thumbnails']:>8}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
