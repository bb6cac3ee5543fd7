"""Browser uploads through `media-pipeline serve`, timed, next to `media-pipeline process` on the same files; and the
page's screenshots for the docs.

    python benchmarks/web_upload.py [--screenshots docs/] [--json]

One emulated account stays up for every browser upload (as `serve` does). Per sample, the browser time runs from
handing the file to the page's file picker until the item's row in the list says SUCCEEDED (the list refreshes
every 2 s while items run, so the time is rounded up by up to 2 s). Then, in the same run, `media-pipeline process`
handles each file on its own (a fresh emulated account each time, as the command does); its time is the one its
results table reports for the item (upload to manifest). Needs Debian's chromium and chromedriver.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLES = ["speech.flac", "video-with-speech.mp4", "two-page-report.pdf", "scanned-page.png", "contact-details.pdf"]
SHOTS = {"speech.flac": "web-audio.png", "video-with-speech.mp4": "web-video.png",
         "two-page-report.pdf": "web-document.png"}
PASSWORD = "A-long-password-1"


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1500",
                     "--mute-audio", "--hide-scrollbars"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)


def wait(condition, timeout: float = 300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - still rendering
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError("the page did not get there in time")


def row(driver, name: str, status: str):
    for tr in driver.find_elements("css selector", "#item-rows tr"):
        if tr.find_element("css selector", "td button").text == name and tr.get_attribute("data-status") == status:
            return tr
    return None


def open_row(driver, name: str) -> bool:
    """Click the item's name in the list (retried: the list re-renders while items run)."""
    found = row(driver, name, "SUCCEEDED")
    if found is None:
        return False
    found.find_element("css selector", "td button").click()
    return True


def browser_run(shots: Path | None) -> dict[str, float]:
    from media_pipeline.local.runtime import LocalPipeline
    from media_pipeline.local.web_server import LocalWeb

    times: dict[str, float] = {}
    with LocalPipeline(mode="server", warm_engines=True) as pipeline, LocalWeb(pipeline) as web:
        web.add_user("workshop", PASSWORD)
        driver = browser()
        try:
            driver.get(web.url + "/")
            wait(lambda: driver.find_element("id", "username").is_displayed())
            driver.find_element("id", "username").send_keys("workshop")
            driver.find_element("id", "password").send_keys(PASSWORD)
            driver.find_element("css selector", "#sign-in-form button[type=submit]").click()
            wait(lambda: driver.find_element("id", "upload").is_displayed())
            from media_pipeline.local.runtime import warm_engines

            warm_engines()  # the models loaded, as `serve` loads them while the user signs in
            for name in SAMPLES:
                started = time.monotonic()
                driver.find_element("id", "file-input").send_keys(str(ROOT / "samples" / name))
                wait(lambda: row(driver, name, "SUCCEEDED"))
                times[name] = time.monotonic() - started
                print(f"browser: {name} SUCCEEDED after {times[name]:.1f} s", file=sys.stderr)
            if shots:
                shots.mkdir(parents=True, exist_ok=True)
                driver.execute_script("document.getElementById('upload-list').replaceChildren()")
                driver.save_screenshot(str(shots / "web-list.png"))
                for name, shot in SHOTS.items():
                    wait(lambda: open_row(driver, name))
                    wait(lambda: driver.find_element("id", "manifest-box").is_displayed())
                    lines = driver.find_elements("css selector", "#transcript-lines button")
                    if lines:
                        wait(lambda: driver.execute_script("return document.getElementById('player').readyState >= 1"), 30)
                        lines[-1].click()
                        driver.execute_script("document.getElementById('player').pause()")
                    driver.execute_script("window.scrollTo(0, 0)")
                    time.sleep(0.5)
                    driver.save_screenshot(str(shots / shot))
                    driver.execute_script("location.hash = '#/'")
                    wait(lambda: driver.find_element("id", "items").is_displayed())
        finally:
            driver.quit()
    return times


def process_run() -> dict[str, float]:
    times: dict[str, float] = {}
    cli = Path(sys.executable).with_name("media-pipeline")
    for name in SAMPLES:
        with tempfile.TemporaryDirectory() as out:
            result = subprocess.run([str(cli), "process", f"samples/{name}", "--out", out],  # short names in the table
                                    capture_output=True, text=True, cwd=ROOT)
        found = [line for line in result.stdout.splitlines() if name in line and re.search(r"\d+\.\d\s*$", line)]
        seconds = re.findall(r"(\d+\.\d)\s*$", found[-1]) if found else []
        times[name] = float(seconds[0]) if seconds else float("nan")
        print(f"process: {name} {times[name]:.1f} s", file=sys.stderr)
    return times


def main() -> int:
    options = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    options.add_argument("--screenshots", type=Path, help="save the page's screenshots here (docs/)")
    options.add_argument("--json", action="store_true")
    args = options.parse_args()
    in_browser = browser_run(args.screenshots)
    processed = process_run()
    if args.json:
        print(json.dumps({"browser_seconds": in_browser, "process_seconds": processed}, indent=2))
        return 0
    print(f"{'sample':<24} {'browser upload → SUCCEEDED':>28} {'media-pipeline process':>24}")
    for name in SAMPLES:
        print(f"{name:<24} {in_browser[name]:>26.1f} s {processed[name]:>22.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
