"""Title, summary and keywords from Amazon Bedrock's Converse API.

Long texts are split to fit the model, each part summarised, and the part summaries combined
(map-reduce), within a token budget. The model's answer must be JSON matching a schema.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Callable

from media_pipeline.aws import client
from media_pipeline.errors import BEDROCK, EnrichmentFailed, aws_error

CHARS_PER_TOKEN = 4  # a conservative estimate for English-like text; the budget errs on the safe side
OUTPUT_TOKENS = 800


@functools.lru_cache(maxsize=None)
def _resource(name: str) -> str:
    return resources.files("media_pipeline").joinpath(name).read_text(encoding="utf-8")


@functools.lru_cache(maxsize=1)
def _validator() -> Callable[[Any], Any]:
    import fastjsonschema

    return fastjsonschema.compile(json.loads(_resource("schemas/enrichment.schema.json")))


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def split_text(text: str, max_tokens: int) -> list[str]:
    """Split at paragraph, then sentence, then word boundaries so each part fits max_tokens."""
    limit = max(200, max_tokens * CHARS_PER_TOKEN)
    if len(text) <= limit:
        return [text]
    pieces = re.split(r"(?<=[.!?])\s+|\n{2,}", text)
    parts: list[str] = []
    current = ""
    for piece in pieces:
        while len(piece) > limit:  # one endless sentence: cut at a space near the limit
            cut = piece.rfind(" ", 0, limit)
            cut = cut if cut > limit // 2 else limit
            if current:
                parts.append(current)
                current = ""
            parts.append(piece[:cut].strip())
            piece = piece[cut:].strip()
        if current and len(current) + 1 + len(piece) > limit:
            parts.append(current)
            current = piece
        else:
            current = f"{current} {piece}".strip()
    if current:
        parts.append(current)
    return [p for p in parts if p]


def parse_model_json(reply: str) -> dict[str, Any]:
    """Models sometimes wrap JSON in prose or code fences: take the outermost object."""
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        raise EnrichmentFailed("the model's answer holds no JSON object", code="ENRICHMENT_INVALID_OUTPUT")
    try:
        value = json.loads(reply[start:end + 1])
    except ValueError as exc:
        raise EnrichmentFailed(f"the model's answer is not valid JSON: {exc}", code="ENRICHMENT_INVALID_OUTPUT") from exc
    try:
        _validator()(value)
    except Exception as exc:  # fastjsonschema.JsonSchemaException
        raise EnrichmentFailed(f"the model's answer does not match the schema: {exc}",
                               code="ENRICHMENT_INVALID_OUTPUT") from exc
    return {"title": value["title"].strip(), "summary": value["summary"].strip(),
            "keywords": [k.strip() for k in value["keywords"] if k.strip()]}


@dataclass
class Usage:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    warnings: list[dict[str, str]] = field(default_factory=list)


def converse(model_id: str, prompt: str, usage: Usage) -> str:
    """One Converse call. Throttling is retried by botocore's adaptive mode inside the call (media_pipeline/aws.py)
    and, past that, by the state machine's Retry on ThrottledError: one retry policy per layer, none written here."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        response = client("bedrock-runtime").converse(
            modelId=model_id,
            system=[{"text": _resource("prompts/enrichment_system.txt").strip()}],
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": OUTPUT_TOKENS, "temperature": 0.2},
        )
    except (ClientError, BotoCoreError) as exc:
        raise aws_error(exc, BEDROCK, "Converse") from exc
    usage.calls += 1
    tokens = response.get("usage") or {}
    usage.input_tokens += int(tokens.get("inputTokens") or 0)
    usage.output_tokens += int(tokens.get("outputTokens") or 0)
    content = ((response.get("output") or {}).get("message") or {}).get("content") or []
    return "".join(block.get("text", "") for block in content)


def _ask(model_id: str, text: str, part_description: str, usage: Usage) -> dict[str, Any]:
    prompt = _resource("prompts/enrichment.txt").format(part_description=part_description, text=text)
    try:
        return parse_model_json(converse(model_id, prompt, usage))
    except EnrichmentFailed as exc:
        if exc.code != "ENRICHMENT_INVALID_OUTPUT":
            raise
        # One more try with the instruction repeated: small models sometimes add prose.
        reply = converse(model_id, prompt + "\nReturn only the JSON object.", usage)
        return parse_model_json(reply)


def enrich_text(text: str, *, model_id: str, max_input_tokens: int, token_budget: int) -> tuple[dict[str, Any], Usage]:
    """Map-reduce: summarise each part that fits the model, then combine the part summaries."""
    usage = Usage()
    parts = split_text(text, max_input_tokens)
    per_call = max_input_tokens + OUTPUT_TOKENS
    affordable = max(1, token_budget // per_call - 1)  # keep one call for the combine step
    if len(parts) > affordable:
        step = len(parts) / affordable
        chosen = [parts[int(i * step)] for i in range(affordable)]
        usage.warnings.append({"code": "ENRICHMENT_INPUT_SAMPLED", "message":
                               f"the text has {len(parts)} parts; {affordable} evenly spaced parts fit the token budget of {token_budget}"})
        parts = chosen
    if len(parts) == 1:
        result = _ask(model_id, parts[0], "the full text", usage)
    else:
        summaries = [_ask(model_id, part, f"part {i} of {len(parts)}", usage) for i, part in enumerate(parts, start=1)]
        result = _combine(model_id, summaries, max_input_tokens, usage)
    return result, usage


def _combine(model_id: str, summaries: list[dict[str, Any]], max_input_tokens: int, usage: Usage) -> dict[str, Any]:
    while True:
        digest = "\n\n".join(f"Part {i}: {s['title']}\n{s['summary']}\nKeywords: {', '.join(s['keywords'])}"
                             for i, s in enumerate(summaries, start=1))
        if estimate_tokens(digest) <= max_input_tokens or len(summaries) <= 2:
            return _ask(model_id, digest, f"the part-by-part summaries ({len(summaries)} parts)", usage)
        groups = split_text(digest, max_input_tokens)
        summaries = [_ask(model_id, group, "a group of part summaries", usage) for group in groups]
