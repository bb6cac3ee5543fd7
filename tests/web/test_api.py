"""The web API on the emulator, through `serve`'s server: the routes, and the security they promise (each
security test is named for what it shows)."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from media_pipeline import web_api
from tests.web.conftest import MAX_BYTES, SAMPLES, Served

REPORT = SAMPLES / "two-page-report.pdf"


@pytest.fixture(scope="module")
def report(served: Served) -> dict[str, Any]:
    """alice's two-page report, processed (a PDF with a text layer: no OCR, so quick)."""
    upload = served.upload(served.alice, REPORT, "application/pdf")
    item = served.item_for_key(served.alice, upload["key"])
    return served.finished(served.alice, item["media_id"])


# ---- security ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [("POST", "/uploads"), ("GET", "/items"), ("GET", f"/items/{'0' * 32}"),
                                         ("DELETE", f"/items/{'0' * 32}"), ("POST", f"/items/{'0' * 32}/reprocess")])
def test_security_no_token_is_401_on_every_route(served: Served, method: str, path: str) -> None:
    response = requests.request(method, served.api + path)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}


def test_security_a_forged_or_foreign_token_is_401(served: Served) -> None:
    token = served.alice.token
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    for value in (f"Bearer {tampered}", token, "Bearer not-a-jwt", f"Basic {token}"):
        assert requests.get(f"{served.api}/items", headers={"Authorization": value}).status_code == 401


def test_security_an_expired_token_or_another_clients_token_is_rejected(served: Served) -> None:
    from media_pipeline.local.web_server import TokenRejected

    authorizer = served.web.authorizer
    assert authorizer.claims(f"Bearer {served.alice.token}")["sub"] == served.alice.sub
    with pytest.raises(TokenRejected, match="expired"):
        authorizer.claims(f"Bearer {served.alice.token}", now=time.time() + 3601)
    other_client = served.pipeline.client("cognito-idp").create_user_pool_client(
        UserPoolId=served.web.user_pool_id, ClientName="other", ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    token = served.pipeline.client("cognito-idp").initiate_auth(
        ClientId=other_client, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "alice", "PASSWORD": "A-long-password-1"})["AuthenticationResult"]["AccessToken"]
    assert requests.get(f"{served.api}/items", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_security_another_users_item_is_404(served: Served, report: dict[str, Any]) -> None:
    media_id = report["media_id"]
    bob = served.bob.headers
    assert requests.get(f"{served.api}/items/{media_id}", headers=bob).status_code == 404
    assert requests.delete(f"{served.api}/items/{media_id}", headers=bob).status_code == 404
    assert requests.post(f"{served.api}/items/{media_id}/reprocess", headers=bob).status_code == 404
    assert media_id not in [i["media_id"] for i in requests.get(f"{served.api}/items", headers=bob).json()["items"]]
    assert requests.get(f"{served.api}/items/{media_id}", headers=served.alice.headers).status_code == 200


def test_security_the_upload_policy_cannot_write_outside_the_callers_folder(served: Served) -> None:
    post = requests.post(f"{served.api}/uploads", headers=served.alice.headers,
                         json={"filename": "../../results/x/manifest.json", "content_type": "application/pdf"}).json()
    assert post["key"].startswith(f"uploads/{served.alice.sub}/") and ".." not in post["key"]
    for key in (f"uploads/{served.bob.sub}/evil.pdf", "results/x/manifest.json", "uploads/evil.pdf"):
        response = requests.post(post["url"], data={**post["fields"], "key": key},
                                 files={"file": ("evil.pdf", REPORT.read_bytes())})
        assert response.status_code == 403 and "Policy Condition failed" in response.text, key
    s3 = served.pipeline.client("s3")
    for prefix in (f"uploads/{served.bob.sub}/", "results/x/", "uploads/evil"):
        assert not s3.list_objects_v2(Bucket=served.pipeline.bucket, Prefix=prefix).get("Contents")


def test_security_the_upload_policy_refuses_a_file_past_the_size_limit(served: Served) -> None:
    post = requests.post(f"{served.api}/uploads", headers=served.alice.headers,
                         json={"filename": "big.mp4", "content_type": "video/mp4"}).json()
    assert post["max_bytes"] == MAX_BYTES
    too_large = requests.post(post["url"], data=post["fields"], files={"file": ("big.mp4", b"\0" * (MAX_BYTES + 1))})
    assert too_large.status_code == 400 and "EntityTooLarge" in too_large.text
    assert requests.post(f"{served.api}/uploads", headers=served.alice.headers,
                         json={"filename": "big.mp4", "content_type": "video/mp4", "size": MAX_BYTES + 1}).status_code == 400


def test_security_the_upload_policy_fixes_the_content_type(served: Served) -> None:
    refused = requests.post(f"{served.api}/uploads", headers=served.alice.headers,
                            json={"filename": "page.html", "content_type": "text/html"})
    assert refused.status_code == 400 and "not accepted" in refused.json()["message"]
    post = requests.post(f"{served.api}/uploads", headers=served.alice.headers,
                         json={"filename": "r.pdf", "content_type": "application/pdf"}).json()
    changed = requests.post(post["url"], data={**post["fields"], "Content-Type": "text/html"},
                            files={"file": ("r.pdf", REPORT.read_bytes())})
    assert changed.status_code == 403 and "Content-Type" in changed.text


def test_security_download_links_expire(served: Served, report: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    assert report["link_seconds"] == web_api.LINK_SECONDS == 300
    monkeypatch.setattr(web_api, "LINK_SECONDS", 1)
    view = requests.get(f"{served.api}/items/{report['media_id']}", headers=served.alice.headers).json()
    link = view["links"]["text"]
    assert "X-Amz-Expires=1" in link and requests.get(link).text.startswith("Annual Library Review")
    time.sleep(2.1)
    expired = requests.get(link)
    assert expired.status_code == 403 and "Request has expired" in expired.text


def test_security_the_owner_comes_from_the_key_the_policy_fixed(served: Served) -> None:
    """An upload made with S3 access outside any user's folder belongs to nobody; one in bob's folder is bob's."""
    s3 = served.pipeline.client("s3")
    s3.put_object(Bucket=served.pipeline.bucket, Key="uploads/shared.pdf", Body=REPORT.read_bytes())
    s3.put_object(Bucket=served.pipeline.bucket, Key=f"uploads/{served.bob.sub}/from-admin.pdf", Body=REPORT.read_bytes())
    item = served.item_for_key(served.bob, f"uploads/{served.bob.sub}/from-admin.pdf")
    served.finished(served.bob, item["media_id"])
    keys = [i["key"] for i in requests.get(f"{served.api}/items?limit=100", headers=served.alice.headers).json()["items"]]
    assert "uploads/shared.pdf" not in keys and f"uploads/{served.bob.sub}/from-admin.pdf" not in keys


# ---- the routes ------------------------------------------------------------------------------------------------

def test_item_view_has_status_text_by_page_summary_and_links(report: dict[str, Any]) -> None:
    assert report["status"] == "SUCCEEDED" and report["error"] is None and report["current_step"] is None
    pages = report["manifest"]["text"]["pages"]
    assert [p["page"] for p in pages] == [1, 2] and pages[1]["text"].startswith("Plans for Next Year")
    assert report["manifest"]["enrichment"]["title"] == "Annual Library Review"
    assert {"text", "pages", "manifest"} <= set(report["links"])
    assert report["media_url"] is None  # a document has no player


def test_a_bad_file_fails_with_its_reason_in_plain_words(served: Served) -> None:
    upload = served.upload(served.alice, Path("notes.mp3"), "audio/mpeg", body=b"just some text, not audio at all\n" * 10)
    view = served.finished(served.alice, served.item_for_key(served.alice, upload["key"])["media_id"])
    assert view["status"] == "FAILED"
    assert view["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert view["error"]["plain"].startswith("This is not a kind of file the pipeline can read")


def test_items_are_newest_first_and_paginated(served: Served, report: dict[str, Any]) -> None:
    first = requests.get(f"{served.api}/items?limit=1", headers=served.alice.headers).json()
    assert len(first["items"]) == 1 and first["next"]
    second = requests.get(f"{served.api}/items", params={"limit": 1, "next": first["next"]},
                          headers=served.alice.headers).json()
    assert second["items"][0]["media_id"] != first["items"][0]["media_id"]
    everything = requests.get(f"{served.api}/items?limit=100", headers=served.alice.headers).json()["items"]
    created = [i["created_at"] for i in everything]
    assert created == sorted(created, reverse=True)
    foreign = requests.get(f"{served.api}/items", params={"next": first["next"]}, headers=served.bob.headers)
    assert foreign.status_code == 400  # a page token names its owner; bob cannot page through alice's items


def test_reprocess_starts_a_new_item_and_delete_removes_everything(served: Served, report: dict[str, Any]) -> None:
    alice = served.alice.headers
    again = requests.post(f"{served.api}/items/{report['media_id']}/reprocess", headers=alice)
    assert again.status_code == 202
    new_id = again.json()["media_id"]
    assert new_id != report["media_id"]
    view = served.finished(served.alice, new_id)
    assert view["status"] == "SUCCEEDED" and view["manifest"]["enrichment"]["title"] == "Annual Library Review"

    s3, bucket = served.pipeline.client("s3"), served.pipeline.bucket
    assert requests.delete(f"{served.api}/items/{new_id}", headers=alice).status_code == 204
    assert requests.get(f"{served.api}/items/{new_id}", headers=alice).status_code == 404
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"results/{new_id}/")
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    upload_versions = [v["VersionId"] for v in s3.list_object_versions(Bucket=bucket, Prefix=view["key"]).get("Versions", [])]
    assert view["manifest"]["source"]["version_id"] not in upload_versions
    assert report["manifest"]["source"]["version_id"] in upload_versions  # the first item keeps its own version


def test_unknown_routes_are_404_before_the_authorizer(served: Served) -> None:
    assert requests.get(f"{served.api}/secrets").status_code == 404
    assert requests.get(f"{served.api}/items/not-an-id", headers=served.alice.headers).status_code == 404
