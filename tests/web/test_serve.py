"""`media-pipeline serve`: the command starts the page and API on 127.0.0.1, creates its user, and stops cleanly."""
from __future__ import annotations

import io
import re
import threading

import pytest
import requests

from media_pipeline.cli import parser, serve


@pytest.mark.slow  # builds the emulated account and loads the engines
def test_serve_prints_where_to_sign_in_and_serves_the_page_and_api() -> None:
    args = parser().parse_args(["serve", "--port", "0", "--user", "carol", "--password", "A-long-password-9"])
    out, ready, stop = io.StringIO(), threading.Event(), threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(serve.run(args, out, ready=ready, stop=stop)))
    thread.start()
    try:
        assert ready.wait(120), "serve did not start"
        found = re.search(r"Open (http://127\.0\.0\.1:\d+)/ and sign in as carol with password A-long-password-9",
                          out.getvalue())
        assert found, f"serve did not say where to sign in (exit {result})"
        url = found.group(1)
        assert "<title>Media pipeline</title>" in requests.get(url + "/").text
        config = requests.get(url + "/config.json").json()
        assert config["apiUrl"] == url + "/api" and config["clientId"] and config["userPoolId"]
        assert requests.get(url + "/api/items").status_code == 401
    finally:
        stop.set()
        thread.join(60)
    assert result == [0]
