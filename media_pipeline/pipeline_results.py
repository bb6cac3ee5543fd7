"""Reading a pipeline's results from outside it: an item's job record, its manifest, its result files.

One reader serves the CLI against a deployed stack and the local runtime against the emulator; they
differ only in the clients they pass in.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FINAL_STATUSES = ("SUCCEEDED", "FAILED")


@dataclass
class PipelineResults:
    bucket: str
    table: str
    s3: Any
    dynamodb: Any
    results_prefix: str = "results/"

    def job(self, media_id: str) -> dict[str, str] | None:
        item = self.dynamodb.get_item(TableName=self.table, ConsistentRead=True, Key={
            "pk": {"S": f"MEDIA#{media_id}"}, "sk": {"S": "JOB"}}).get("Item")
        return {k: next(iter(v.values())) for k, v in item.items()} if item else None

    def manifest(self, media_id: str) -> dict[str, Any] | None:
        """The manifest once the item has finished; None while it runs."""
        job = self.job(media_id)
        if not job or job.get("status") not in FINAL_STATUSES or not job.get("manifest_key"):
            return None
        return json.loads(self.s3.get_object(Bucket=self.bucket, Key=job["manifest_key"])["Body"].read())

    def download(self, media_id: str, directory: str | Path) -> list[Path]:
        """Every object under results/<media_id>/ into directory, sub-folders kept."""
        prefix = f"{self.results_prefix}{media_id}/"
        written = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                target = Path(directory) / entry["Key"][len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(self.bucket, entry["Key"], str(target))
                written.append(target)
        return written
