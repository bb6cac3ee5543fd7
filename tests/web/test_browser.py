"""The page in headless Chromium (Debian's chromium and chromedriver) against `serve`: sign in, upload a sample,
watch it reach SUCCEEDED in the list, open it, click a transcript line and see the player seek, read the summary;
a bad file shows its reason in plain words. Skipped with the reason when chromium is missing, except under
CI=true (tests/web/conftest.py)."""
from __future__ import annotations

import base64
import time
from typing import Any, Callable

import pytest

from tests.web.conftest import PASSWORD, SAMPLES, Served

pytestmark = pytest.mark.slow  # the offline speech engine transcribes the sample


def wait_for(driver: Any, condition: Callable[[], Any], timeout: float = 120, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # noqa: BLE001 - the page is still rendering
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}\n{driver.find_element('id', 'message').text}")


@pytest.fixture(scope="module")
def page(served: Served, browser: Any) -> Any:
    browser.get(served.web.url + "/")
    wait_for(browser, lambda: browser.find_element("id", "username").is_displayed(), 30, "the sign-in form")
    browser.find_element("id", "username").send_keys("alice")
    browser.find_element("id", "password").send_keys(PASSWORD)
    browser.find_element("css selector", "#sign-in-form button[type=submit]").click()
    wait_for(browser, lambda: browser.find_element("id", "upload").is_displayed(), 30, "the upload area")
    return browser


def row_for(driver: Any, name: str, status: str) -> Any:
    for row in driver.find_elements("css selector", "#item-rows tr"):
        if row.find_element("css selector", "td button").text == name and row.get_attribute("data-status") == status:
            return row
    return None


def open_row(driver: Any, name: str, status: str) -> Any:
    """Click the item's name in the list (retried: the list re-renders every 2 s while items run)."""
    found = row_for(driver, name, status)
    if found is not None:
        text = found.text
        found.find_element("css selector", "td button").click()
        return text
    return None


def open_list(driver: Any) -> None:
    driver.execute_script("location.hash = '#/'")
    wait_for(driver, lambda: driver.find_element("id", "items").is_displayed(), 10, "the list")


def test_upload_watch_open_seek_and_read(page: Any) -> None:
    open_list(page)
    page.find_element("id", "file-input").send_keys(str(SAMPLES / "speech.flac"))
    progress = wait_for(page, lambda: page.find_element("css selector", "#upload-list li progress"), 10, "a progress bar")
    wait_for(page, lambda: progress.get_attribute("value") == "100", 30, "the upload to finish")
    wait_for(page, lambda: open_row(page, "speech.flac", "SUCCEEDED"), 180, "speech.flac to reach SUCCEEDED")

    lines = wait_for(page, lambda: page.find_elements("css selector", "#transcript-lines button"), 30, "the transcript")
    assert "Welcome to the Media Pipeline Workshop" in lines[0].text
    summary = page.find_element("id", "summary").text
    assert "Welcome to the Media Pipeline Workshop" in summary
    assert page.find_element("id", "item-status").text == "SUCCEEDED"
    track = page.find_element("css selector", "#player track")
    assert track.get_attribute("kind") == "captions"
    wait_for(page, lambda: page.execute_script("return document.getElementById('player').readyState >= 1"), 30,
             "the player to load the audio")

    target = lines[-1]
    start = float(target.get_attribute("data-start"))
    assert start > 1
    target.click()
    position = wait_for(page, lambda: page.execute_script("return document.getElementById('player').currentTime") or None,
                        10, "the player to seek")
    assert abs(position - start) < 1.5
    assert target.get_attribute("aria-current") == "true"
    assert "SUCCEEDED" in page.find_element("id", "manifest").get_attribute("textContent")


def test_a_bad_file_shows_its_reason_in_plain_words(page: Any) -> None:
    open_list(page)
    text = base64.b64encode(b"These are meeting notes, not a recording.\n" * 20).decode()
    # Dropped on the drop zone, as a user drags a file onto the page.
    page.execute_script("""
        const bytes = Uint8Array.from(atob(arguments[0]), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], "notes.mp3", { type: "audio/mpeg" }));
        document.getElementById("drop-zone").dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
    """, text)
    row_text = wait_for(page, lambda: open_row(page, "notes.mp3", "FAILED"), 60, "notes.mp3 to fail")
    assert "UNSUPPORTED_MEDIA_TYPE" in row_text
    error = wait_for(page, lambda: page.find_element("id", "item-error") if page.find_element("id", "item-error").is_displayed() else None,
                     30, "the error")
    assert "This is not a kind of file the pipeline can read" in error.text
    assert "Reason code UNSUPPORTED_MEDIA_TYPE" in error.text
