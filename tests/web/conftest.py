"""The web page's API and the page itself against `media-pipeline serve`'s server: the emulated account with the
pipeline deployed in it, the emulated user pool, and the local web server (media_pipeline/local/web_server.py)."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from media_pipeline.local import iam
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
MAX_BYTES = 2_000_000  # the deployment's max_media_bytes for these tests (the samples are smaller)
PASSWORD = "A-long-password-1"


@dataclass
class User:
    name: str
    sub: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Served:
    web: Any
    pipeline: Any
    alice: User
    bob: User

    @property
    def api(self) -> str:
        return self.web.url + "/api"

    def upload(self, user: User, path: Path, content_type: str, *, body: bytes | None = None) -> dict[str, Any]:
        """What the page does: a presigned POST from the API, then the file straight to S3."""
        post = requests.post(f"{self.api}/uploads", headers=user.headers,
                             json={"filename": path.name, "content_type": content_type})
        assert post.status_code == 201, post.text
        upload = post.json()
        stored = requests.post(upload["url"], data=upload["fields"],
                               files={"file": (path.name, path.read_bytes() if body is None else body)})
        assert stored.status_code == 204, stored.text
        return upload

    def item_for_key(self, user: User, key: str, timeout: float = 60) -> dict[str, Any]:
        """The caller's item for an upload, once ingest has recorded it."""
        def listed() -> dict[str, Any] | None:
            items = requests.get(f"{self.api}/items?limit=100", headers=user.headers).json()["items"]
            return next((item for item in items if item["key"] == key), None)

        return until(listed, timeout, f"the item for {key}")

    def finished(self, user: User, media_id: str, timeout: float = 180) -> dict[str, Any]:
        def done() -> dict[str, Any] | None:
            response = requests.get(f"{self.api}/items/{media_id}", headers=user.headers)
            if response.status_code == 404:  # not recorded by ingest yet
                return None
            view = response.json()
            return view if view["status"] in ("SUCCEEDED", "FAILED") else None

        return until(done, timeout, f"item {media_id} to finish")


@pytest.fixture(scope="module")
def served() -> Any:
    """`media-pipeline serve` in this process: one emulated account for the module, kept running between uploads."""
    from media_pipeline.local.runtime import LocalPipeline
    from media_pipeline.local.web_server import LocalWeb

    with LocalPipeline(mode="server", environment={"MAX_MEDIA_BYTES": str(MAX_BYTES)}) as pipeline, \
            LocalWeb(pipeline) as web:
        users = []
        for name in ("alice", "bob"):
            sub = web.add_user(name, PASSWORD)
            users.append(User(name, sub, web.sign_in(name, PASSWORD)))
        yield Served(web, pipeline, *users)


@pytest.fixture(autouse=True)
def no_access_denied(request: pytest.FixtureRequest) -> Any:
    """Every call the API function and the pipeline make is authorized against the template's policies."""
    iam.clear_decisions()
    yield
    denied = [iam.explain(d) for d in iam.denials()]
    assert not denied, "calls the template's policies do not allow:\n" + "\n".join(denied)


# ---- the browser: Debian's chromium and chromedriver ------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.path.exists(path)]
    return f"{' and '.join(missing)} not installed (Debian: apt-get install chromium chromium-driver)" if missing else None


@pytest.fixture(scope="module")
def browser() -> Any:
    reason = browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true needs the browser tests: {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600",
                     "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
