"""A deployed stack, found by its CloudFormation outputs: upload, job records, manifests and results.

Every call goes through one boto3 session built from `--region` and `--profile` (else the usual AWS_REGION,
AWS_PROFILE and config files). `expected_error` turns what a user can fix (no region, no credentials, no such
stack or profile, access denied) into one line for the command to print instead of a traceback.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from media_pipeline.pipeline_results import PipelineResults

CONTENT_HASH_CHARS = 16


def add_aws_options(parser: Any) -> None:
    """--region and --profile, for every command that talks to a deployed stack."""
    parser.add_argument("--region", help="the stack's AWS region (default: AWS_REGION or your profile's region)")
    parser.add_argument("--profile", help="a named AWS profile (default: AWS_PROFILE or the default profile)")


def session(*, region: str | None = None, profile: str | None = None) -> Any:
    import boto3

    return boto3.session.Session(region_name=region, profile_name=profile)


def expected_error(exc: BaseException) -> str | None:
    """One line for an error the user can fix; None for anything else (a bug, shown with its traceback)."""
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return "no AWS region: pass --region REGION, or set AWS_REGION (or a region in your AWS profile)"
    if isinstance(exc, aws.ProfileNotFound):
        return f"{exc} (see `aws configure list-profiles`)"
    if isinstance(exc, (aws.NoCredentialsError, aws.PartialCredentialsError)):
        return "no AWS credentials: run `aws configure` or `aws sso login`, or pass --profile NAME"
    if isinstance(exc, (aws.EndpointConnectionError, aws.ConnectTimeoutError)):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, (aws.TokenRetrievalError, aws.SSOTokenLoadError, aws.UnauthorizedSSOTokenError)):
        return f"{exc} (run `aws sso login`)"
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        if code == "ValidationError" and "does not exist" in message:
            return f"{message} (check --stack, --region and --profile)"
        return f"AWS refused {exc.operation_name}: {code}: {message}"
    if isinstance(exc, aws.WaiterError):
        return f"{exc} (the stack's events in the CloudFormation console say why)"
    if isinstance(exc, StackNotUsable):
        return str(exc)
    return None


class StackNotUsable(LookupError):
    """The stack exists but lacks the outputs the CLI needs."""


@dataclass
class Stack:
    name: str
    bucket: str
    table: str
    upload_prefix: str = "uploads/"
    results_prefix: str = "results/"
    state_machine_arn: str | None = None
    aws: Any = field(default=None, repr=False)  # the boto3 session

    @classmethod
    def describe(cls, name: str, aws: Any = None) -> "Stack":
        aws = aws or session()
        stacks = aws.client("cloudformation").describe_stacks(StackName=name)["Stacks"]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

        def find(*words: str, default: str | None = None) -> str | None:
            for key, value in outputs.items():
                if all(word in key.lower() for word in words):
                    return value
            return default

        bucket, table = find("bucket"), find("table")
        if not bucket or not table:
            raise StackNotUsable(f"stack {name} has no bucket and table outputs (outputs: {sorted(outputs)})")
        return cls(name=name, bucket=bucket, table=table, upload_prefix=find("upload", "prefix", default="uploads/"),
                   results_prefix=find("results", "prefix", default="results/"),
                   state_machine_arn=find("statemachine") or find("state", "machine"), aws=aws)

    def client(self, service: str) -> Any:
        return (self.aws or session()).client(service)

    @property
    def results(self) -> PipelineResults:
        return PipelineResults(bucket=self.bucket, table=self.table, s3=self.client("s3"),
                               dynamodb=self.client("dynamodb"), results_prefix=self.results_prefix)

    def job(self, media_id: str) -> dict[str, str] | None:
        return self.results.job(media_id)

    def manifest(self, media_id: str) -> dict[str, Any] | None:
        return self.results.manifest(media_id)

    def upload_key(self, path: Path) -> str:
        """uploads/<content hash>/<name>: the same file sent twice is the same object, so one item."""
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return f"{self.upload_prefix}{digest.hexdigest()[:CONTENT_HASH_CHARS]}/{path.name}"

    def upload(self, path: Path, on_bytes: Callable[[int], None]) -> str:
        """The item's media id; a file already uploaded (same content, same name) is not sent again."""
        from botocore.exceptions import ClientError

        from media_pipeline.ids import media_id_for

        s3 = self.client("s3")
        key = self.upload_key(path)
        try:
            head = s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise
            s3.upload_file(str(path), self.bucket, key, Callback=on_bytes)
            head = s3.head_object(Bucket=self.bucket, Key=key)
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        return media_id_for(self.bucket, key, version or head["ETag"].strip('"'))

    def download(self, media_id: str, directory: Path) -> list[Path]:
        return self.results.download(media_id, directory)
