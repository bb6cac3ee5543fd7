"""The web API (HTTP API behind a Cognito JWT authorizer): its routes are media_pipeline/web_api.py."""
from __future__ import annotations

from typing import Any

from media_pipeline import web_api
from media_pipeline.observability import pipeline_handler


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return web_api.handle(event, context)
