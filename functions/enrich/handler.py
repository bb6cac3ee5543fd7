"""Title, summary and keywords for the item's text, from Bedrock (long texts are map-reduced)."""
from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from media_pipeline.contract import EnrichmentResult, EnrichmentSkipped, MediaItem, PipelineState, Steps
from media_pipeline.enrichment import PartSummaries, enrich_text
from media_pipeline.observability import metrics, pipeline_handler
from media_pipeline.settings import settings
from media_pipeline.storage import read_json, read_text, results_key, write_json


def text_key_of(steps: Steps) -> str | None:
    """The item's text: its redacted text when PII redaction ran, else the transcript's, or the document's."""
    if steps.pii is not None and steps.pii.redacted_text_key:
        return steps.pii.redacted_text_key
    for result in (steps.transcript, steps.document_text):
        if result is not None and result.text_key:
            return result.text_key
    return None


class KeptBesideResults(PartSummaries):
    """Part summaries under results/<media_id>/enrichment-parts/: a retried Enrich asks only for the rest."""

    def __init__(self, bucket: str, media_id: str):
        self.bucket, self.media_id = bucket, media_id

    def _key(self, key: str) -> str:
        return results_key(self.media_id, f"enrichment-parts/{key}.json")

    def get(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return read_json(self.bucket, self._key(key))
        except ClientError as exc:
            # Not kept yet. Without s3:ListBucket, S3 answers a missing key with 403: a miss either way.
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "AccessDenied", "403"):
                return None
            raise

    def put(self, key: str, summary: dict[str, Any]) -> None:
        write_json(self.bucket, self._key(key), summary)


def enrich(media: MediaItem, steps: Steps) -> EnrichmentResult | EnrichmentSkipped:
    config = settings()
    key = text_key_of(steps)
    text = read_text(config.media_bucket, key).strip() if key else ""
    if not text:
        return EnrichmentSkipped(skipped=True, model_calls=0,
                                 warnings=[{"code": "ENRICHMENT_SKIPPED", "message": "there is no text to summarise"}])
    result, usage = enrich_text(text, model_id=config.bedrock_model_id, max_input_tokens=config.enrichment_max_input_tokens,
                                token_budget=config.enrichment_token_budget,
                                kept=KeptBesideResults(config.media_bucket, media.media_id))
    document = {**result, "model": config.bedrock_model_id, "model_calls": usage.calls,
                "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}
    enrichment_key = write_json(config.media_bucket, results_key(media.media_id, "enrichment.json"), document)
    metrics.add_metric(name="ModelCalls", unit=MetricUnit.Count, value=usage.calls)
    metrics.add_metric(name="ModelInputTokens", unit=MetricUnit.Count, value=usage.input_tokens)
    return EnrichmentResult(enrichment_key=enrichment_key, model=config.bedrock_model_id, model_calls=usage.calls,
                            input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, warnings=usage.warnings)


@pipeline_handler
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = PipelineState.from_state(event)
    return enrich(state.media, state.steps).to_state()
