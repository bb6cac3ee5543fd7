"""A deployed stack, found by its CloudFormation outputs: upload, job records, manifests and results."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from media_pipeline.pipeline_results import PipelineResults


@dataclass
class Stack:
    name: str
    bucket: str
    table: str
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    state_machine_arn: str | None = None

    @classmethod
    def describe(cls, name: str) -> "Stack":
        import boto3

        stacks = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

        def find(*words: str, default: str | None = None) -> str | None:
            for key, value in outputs.items():
                if all(word in key.lower() for word in words):
                    return value
            return default

        bucket, table = find("bucket"), find("table")
        if not bucket or not table:
            raise LookupError(f"stack {name} has no bucket and table outputs (outputs: {sorted(outputs)})")
        return cls(name=name, bucket=bucket, table=table, upload_prefix=find("upload", "prefix", default="uploads/"),
                   results_prefix=find("results", "prefix", default="results/"),
                   state_machine_arn=find("statemachine") or find("state", "machine"))

    @property
    def results(self) -> PipelineResults:
        import boto3

        return PipelineResults(bucket=self.bucket, table=self.table, s3=boto3.client("s3"),
                               dynamodb=boto3.client("dynamodb"), results_prefix=self.results_prefix)

    def job(self, media_id: str) -> dict[str, str] | None:
        return self.results.job(media_id)

    def manifest(self, media_id: str) -> dict[str, Any] | None:
        return self.results.manifest(media_id)

    def upload(self, path: Path, on_bytes: Callable[[int], None]) -> str:
        import boto3

        from media_pipeline.ids import media_id_for

        s3 = boto3.client("s3")
        key = f"{self.upload_prefix}{path.name}"
        s3.upload_file(str(path), self.bucket, key, Callback=on_bytes)
        head = s3.head_object(Bucket=self.bucket, Key=key)
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        return media_id_for(self.bucket, key, version or head["ETag"].strip('"'))

    def download(self, media_id: str, directory: Path) -> list[Path]:
        return self.results.download(media_id, directory)
