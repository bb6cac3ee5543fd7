"""`media-pipeline cost` on a results folder: sums the manifests' cost sections by day and media type."""
from __future__ import annotations

import io
import json
from pathlib import Path

from media_pipeline.cli import main, parser
from media_pipeline.cli.cost import command_cost


def write(folder: Path, name: str, manifest: dict) -> None:
    (folder / name).mkdir(parents=True)
    (folder / name / "manifest.json").write_text(json.dumps(manifest))


def costed(media_type: str, day: str, ai: float, orchestration: float, transitions: int) -> dict:
    return {"media_id": "0" * 32, "media_type": media_type, "status": "SUCCEEDED", "created_at": f"{day}T10:00:00Z",
            "artifacts": {}, "cost": {"currency": "USD", "prices_as_of": "2025-11-01", "ai_total": ai,
                                      "orchestration_total": orchestration, "total": ai + orchestration,
                                      "units": {"state_transitions": transitions}}}


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return command_cost(parser().parse_args(["cost", *argv]), out), out.getvalue()


def test_cost_sums_by_day_and_media_type(tmp_path: Path) -> None:
    write(tmp_path, "a", costed("image", "2026-01-01", 0.002, 0.0004, 8))
    write(tmp_path, "b", costed("image", "2026-01-01", 0.002, 0.0002, 8))
    write(tmp_path, "c", costed("audio", "2026-01-02", 0.024, 0.0003, 9))
    # written before manifests had a cost: priced from its usage, orchestration not counted
    write(tmp_path, "d", {"media_id": "1" * 32, "media_type": "document", "created_at": "2026-01-02T00:00:00Z",
                          "artifacts": {}, "usage": {"textract_pages": 10}})
    status, out = run(str(tmp_path), "--json")
    found = json.loads(out)
    assert status == 0
    assert [(r["day"], r["media_type"], r["items"]) for r in found["rows"]] == [
        ("2026-01-01", "image", 2), ("2026-01-02", "audio", 1), ("2026-01-02", "document", 1)]
    image = found["rows"][0]
    assert (image["ai"], image["orchestration"], image["orchestration_share"]) == (0.004, 0.0006, 0.15)
    assert found["rows"][2]["ai"] == 0.015 and found["manifests_without_cost"] == 1
    assert found["total"]["items"] == 4 and found["total"]["transitions"] == 25

    status, out = run(str(tmp_path))
    assert "2026-01-01  image          2    0.004000      0.000600   15.0%    0.004600" in out
    assert "1 manifests had no cost section" in out


def test_cost_of_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["cost", str(tmp_path / "nowhere")]) == 2
