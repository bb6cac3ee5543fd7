"""The bundled sample with personal data (samples/contact-details.pdf) through LocalPipeline with the real offline
engines and PII redaction turned on: the detector finds the e-mail address, the phone number, the IBAN and the card
number (not the order reference that fails Luhn), and, without the unredacted copy, no result keeps them."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from media_pipeline.local import runtime

SAMPLE = Path(__file__).parents[2] / "samples" / "contact-details.pdf"
SECRETS = ("jane.example@example.com", "+44 20 7946 0958", "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111")


@pytest.mark.slow
def test_the_pii_sample_is_redacted_offline(tmp_path: Path) -> None:
    environment = {"PII_REDACTION": "enabled", "KEEP_UNREDACTED": "false"}
    with runtime.LocalPipeline(mode="mock", engines=True, environment=environment) as local:
        upload = local.upload(SAMPLE.read_bytes(), name=SAMPLE.name)
        manifest = local.wait(upload.media_id, timeout=120)
        files = {path.name: path for path in local.download_results(upload.media_id, tmp_path)}
    assert manifest["status"] == "SUCCEEDED", manifest.get("error")
    assert manifest["pii"]["entity_counts"] == {"CREDIT_DEBIT_NUMBER": 1, "EMAIL": 1,
                                                "INTERNATIONAL_BANK_ACCOUNT_NUMBER": 1, "PHONE": 1}
    redacted = files["text.redacted.txt"].read_text()
    assert "at [EMAIL] or [PHONE]." in redacted and "IBAN [INTERNATIONAL_BANK_ACCOUNT_NUMBER]." in redacted
    assert "card [CREDIT_DEBIT_NUMBER]." in redacted
    assert "Order reference 4111 1111 1111 1112 is not a card number." in redacted  # fails Luhn: kept
    assert files["text.txt"].read_text() == redacted
    everything = json.dumps(manifest) + "".join(p.read_text(errors="replace") for p in files.values()
                                                if p.suffix in (".txt", ".json"))
    assert not any(secret in everything for secret in SECRETS)
