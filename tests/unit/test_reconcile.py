"""The message reconcile sends is the one S3's EventBridge event puts on the ingest queue: ingest reads it back to
the same upload (key decoded once, version pinned)."""
from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pytest

from media_pipeline.ids import media_id_for
from media_pipeline.reconcile import FINISHED, LOST, RESENT, RUNNING, Finding, Report, UploadVersion, upload_event

ROOT = Path(__file__).resolve().parents[2]


def ingest_module():
    spec = importlib.util.spec_from_file_location("ingest_handler_for_reconcile", ROOT / "functions/ingest/handler.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("key", ["uploads/talk.wav", "uploads/a talk+notes (1).wav", "uploads/résumé 100%.pdf"])
def test_ingest_reads_the_resent_event_as_the_upload(key):
    upload = UploadVersion(bucket="media", key=key, version_id="v1", etag="abc", size=42,
                           last_modified=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    ingest = ingest_module()
    [announced] = ingest.uploads_in(upload_event(upload, region="eu-west-1", account="123456789012"))
    assert ingest.upload_key(announced["key"]) == key
    assert (announced["bucket"], announced["version_id"], announced["etag"], announced["size"]) == ("media", "v1", "abc", 42)
    assert upload.media_id == media_id_for("media", key, "v1")


def test_an_unversioned_upload_is_named_by_its_etag():
    upload = UploadVersion(bucket="media", key="uploads/x.wav", version_id=None, etag="e1", size=1,
                           last_modified=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    assert upload.media_id == media_id_for("media", "uploads/x.wav", "e1")
    assert "version-id" not in upload_event(upload, region="r")["detail"]["object"]


def test_the_report_counts_everything_and_lists_all_but_finished_items():
    report = Report(dry_run=True, grace_seconds=0)
    report.add(Finding(media_id="a", key="uploads/a", version_id=None, finding=FINISHED))
    report.add(Finding(media_id="b", key="uploads/b", version_id="v", finding=LOST, action=RESENT))
    report.add(Finding(media_id="c", key="uploads/c", version_id="v", finding=RUNNING, execution_status="RUNNING"))
    shown = report.as_dict()
    assert shown["checked"] == 3 and shown["counts"] == {FINISHED: 1, LOST: 1, RUNNING: 1}
    assert shown["actions"] == {RESENT: 1} and [i["media_id"] for i in shown["items"]] == ["b", "c"]
    assert shown["items"][0] == {"media_id": "b", "key": "uploads/b", "version_id": "v", "finding": LOST,
                                 "action": RESENT}
    assert shown["truncated"] is False
