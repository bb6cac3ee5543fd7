"""The manifest: the contract users, the CLI and other steps rely on. Every one written is validated."""
from __future__ import annotations

import functools
import json
import time
from importlib import resources
from typing import Any, Callable

from media_pipeline.errors import PipelineError

SCHEMA_VERSION = "1.0"
MANIFEST_NAME = "manifest.json"


@functools.lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("media_pipeline").joinpath("schemas/manifest.schema.json").read_text("utf-8"))


@functools.lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile(schema())


class InvalidManifest(PipelineError):
    code = "INVALID_MANIFEST"


def validate(manifest: dict[str, Any]) -> dict[str, Any]:
    try:
        _validator()(manifest)
    except Exception as exc:  # fastjsonschema.JsonSchemaException
        raise InvalidManifest(f"manifest does not match its schema: {exc}") from exc
    return manifest


def source_of(media: dict[str, Any]) -> dict[str, Any]:
    source: dict[str, Any] = {"uri": media.get("source") or f"s3://{media['bucket']}/{media['key']}",
                              "bucket": media["bucket"], "key": media["key"]}
    for field in ("version_id", "etag", "size", "detected_format"):
        if media.get(field) is not None:
            source[field] = media[field]
    return source


def new_manifest(media: dict[str, Any], *, status: str, warnings: list[dict[str, str]] | None = None,
                 error: dict[str, str] | None = None) -> dict[str, Any]:
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "media_id": media["media_id"],
        "source": source_of(media),
        "status": status,
        "media_type": media.get("media_type") or "unknown",
        "warnings": list(warnings or []),
        "artifacts": {},
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if error:
        manifest["error"] = {"code": error["code"], "message": error["message"]}
    return manifest
