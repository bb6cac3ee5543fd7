"""Publishing an item's result: manifest.json, the job status and the 'Media Processed' event."""
from __future__ import annotations

import json
import os
from typing import Any

from media_pipeline import jobs, manifest as manifests
from media_pipeline.aws import client
from media_pipeline.cost import cost_section
from media_pipeline.errors import TransientError
from media_pipeline.observability import record_item
from media_pipeline.settings import settings
from media_pipeline.storage import results_key, s3_uri, write_json

EVENT_SOURCE = "media.pipeline"
EVENT_DETAIL_TYPE = "Media Processed"


def publish(manifest: dict[str, Any]) -> str:
    """Validate and write the manifest, then record the status and announce it. Returns the manifest key."""
    media_id = manifest["media_id"]
    key = results_key(media_id, manifests.MANIFEST_NAME)
    manifest["artifacts"]["manifest"] = s3_uri(settings().media_bucket, key)
    if "cost" not in manifest:  # an upload ingest rejected: no execution, only ingest's own run
        manifest["cost"] = cost_section(manifest, None, region=os.environ.get("AWS_REGION"))
    manifests.validate(manifest)
    write_json(settings().media_bucket, key, manifest)
    error_code = manifest.get("error", {}).get("code")
    jobs.finish_job(media_id, status=manifest["status"], manifest_key=key, error_code=error_code)
    record_item(manifest)
    detail = {"media_id": media_id, "status": manifest["status"], "media_type": manifest["media_type"],
              "manifest": manifest["artifacts"]["manifest"], "error_code": error_code}
    response = client("events").put_events(Entries=[{
        "Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(detail),
        "EventBusName": settings().event_bus_name}])
    if response.get("FailedEntryCount"):
        # The manifest and job record are written; a lost notification must still be visible.
        raise TransientError(f"EventBridge did not accept the result event: {response['Entries']}",
                             code="EVENT_NOT_DELIVERED")
    return key
