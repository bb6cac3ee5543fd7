"""A smaller burst than benchmarks/burst.py's 200 items, with the same assertions: every item SUCCEEDED, the
quotas never passed, no slot left behind, through injected throttling and server errors."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from media_pipeline.local import iam

pytestmark = pytest.mark.slow


def burst_module():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "burst.py"
    spec = importlib.util.spec_from_file_location("benchmarks_burst", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_forty_items_through_small_quotas_throttling_and_server_errors():
    iam.clear_decisions()
    summary = burst_module().run(items=40, transcribe_quota=3, textract_quota=2, throttle=0.3, server_errors=0.05,
                                 seed=11, job_seconds=1.0, timeout=900)
    assert (summary["succeeded"], summary["failed"]) == (40, 0), summary
    assert 1 <= summary["max_concurrent_transcribe_jobs"] <= 3
    assert 1 <= summary["max_concurrent_textract_jobs"] <= 2
    assert summary["slots_left"] == {"textract_holders": 0, "textract_waiting": 0}
    injected = summary["retries_by_service"]["injected_faults"]
    assert injected.get("s3", 0) > 0 and injected.get("dynamodb", 0) > 0, injected
    assert sum(injected.get(s, 0) for s in ("transcribe", "textract", "bedrock-runtime", "comprehend")) > 0
    assert not iam.denials(), [iam.explain(d) for d in iam.denials()]
