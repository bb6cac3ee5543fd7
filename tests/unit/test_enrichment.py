import json

import pytest

from media_pipeline import enrichment
from media_pipeline.errors import EnrichmentFailed, ThrottledError


def test_split_keeps_every_word_and_respects_the_limit():
    text = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(2000))
    parts = enrichment.split_text(text, max_tokens=500)
    assert len(parts) > 10
    assert all(len(p) <= 500 * enrichment.CHARS_PER_TOKEN for p in parts)
    assert " ".join(parts).split() == text.split()


def test_model_json_is_taken_from_prose_and_fences():
    reply = 'Here you go:\n```json\n{"title": " T ", "summary": "S.", "keywords": ["a", " "]}\n```'
    assert enrichment.parse_model_json(reply) == {"title": "T", "summary": "S.", "keywords": ["a"]}


@pytest.mark.parametrize("reply", ["no json here", '{"title": "T"}', '{"title": 3, "summary": "", "keywords": []}'])
def test_invalid_model_output_is_a_typed_failure(reply):
    with pytest.raises(EnrichmentFailed) as caught:
        enrichment.parse_model_json(reply)
    assert caught.value.code == "ENRICHMENT_INVALID_OUTPUT"


def test_short_text_takes_one_call(fake_bedrock):
    result, usage = enrichment.enrich_text("A short transcript.", model_id="m", max_input_tokens=1000, token_budget=100000)
    assert result["title"] == "A test title"
    assert usage.calls == 1
    assert "A short transcript." in fake_bedrock.calls[0]["messages"][0]["content"][0]["text"]
    assert fake_bedrock.calls[0]["modelId"] == "m"


def test_long_text_is_map_reduced(fake_bedrock):
    text = " ".join(f"Chapter {i} explains subject {i}." for i in range(3000))
    result, usage = enrichment.enrich_text(text, model_id="m", max_input_tokens=1000, token_budget=10**7)
    parts = len(enrichment.split_text(text, 1000))
    assert usage.calls == parts + 1  # one per part, one to combine
    assert "part-by-part summaries" in fake_bedrock.calls[-1]["messages"][0]["content"][0]["text"]
    assert all(enrichment.estimate_tokens(c["messages"][0]["content"][0]["text"]) <= 1000 + 200 for c in fake_bedrock.calls)
    assert result["keywords"] == ["test", "media"]


def test_token_budget_samples_parts_and_says_so(fake_bedrock):
    text = " ".join(f"Chapter {i} explains subject {i}." for i in range(3000))
    _, usage = enrichment.enrich_text(text, model_id="m", max_input_tokens=1000, token_budget=5 * 1800)
    assert usage.calls <= 5
    assert usage.warnings[0]["code"] == "ENRICHMENT_INPUT_SAMPLED"


def test_throttling_left_to_botocore_and_the_state_machine_is_raised_typed(fake_bedrock):
    """No retry loop of its own: botocore's adaptive mode retried inside the call; what escapes it is one typed
    ThrottledError for the state machine's Retry."""
    from botocore.exceptions import ClientError

    calls = []

    def throttled(**_):
        calls.append(1)
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Converse")

    fake_bedrock.converse = throttled
    with pytest.raises(ThrottledError) as caught:
        enrichment.converse("m", "prompt", enrichment.Usage())
    assert caught.value.code == "BEDROCK_THROTTLED"
    assert len(calls) == 1


def test_invalid_output_is_asked_again_once(fake_bedrock):
    replies = iter(["I cannot answer in JSON", json.dumps({"title": "T", "summary": "S", "keywords": ["k"]})])
    fake_bedrock.reply = lambda prompt: next(replies)
    result, usage = enrichment.enrich_text("Some text.", model_id="m", max_input_tokens=1000, token_budget=10**6)
    assert result["title"] == "T" and usage.calls == 2
