"""The offline PII detector (media_pipeline/local/engines/pii.py): true positives with Comprehend's type names,
and the checksums that keep look-alikes out."""
from __future__ import annotations

import pytest

from media_pipeline.local.engines import pii


def found(text: str) -> list[tuple[str, str]]:
    return [(e["Type"], text[e["BeginOffset"]:e["EndOffset"]]) for e in pii.find_entities(text)]


@pytest.mark.parametrize("kind, value", [
    ("EMAIL", "jane.doe+news@mail.example.co.uk"),
    ("URL", "https://example.org/path?q=1"),
    ("URL", "www.example.com/contact"),
    ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "DE89 3704 0044 0532 0130 00"),
    ("INTERNATIONAL_BANK_ACCOUNT_NUMBER", "GB82WEST12345698765432"),
    ("CREDIT_DEBIT_NUMBER", "4111 1111 1111 1111"),
    ("CREDIT_DEBIT_NUMBER", "5555-5555-5555-4444"),
    ("CREDIT_DEBIT_NUMBER", "378282246310005"),
    ("CA_SOCIAL_INSURANCE_NUMBER", "046 454 286"),
    ("UK_NATIONAL_INSURANCE_NUMBER", "AB 12 34 56 C"),
    ("SSN", "123-45-6789"),
    ("IP_ADDRESS", "192.168.10.254"),
    ("IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ("MAC_ADDRESS", "00:1A:2B:3C:4D:5E"),
    ("PHONE", "+44 20 7946 0958"),
    ("PHONE", "+49 30 901820"),
    ("PHONE", "(415) 555-0132"),
    ("PHONE", "1-800-555-0199"),
])
def test_true_positives(kind, value):
    assert found(f"Here it is: {value}. Thanks") == [(kind, value)]


@pytest.mark.parametrize("text", [
    "order 4111 1111 1111 1112 shipped",            # 16 digits failing Luhn: not a card
    "ref 1234567890123456",                          # another 16 digits failing Luhn
    "IBAN DE89 3704 0044 0532 0130 01",              # mod-97 fails
    "SIN 046 454 287",                               # Luhn fails
    "SSN 000-12-3456 and 666-12-3456 and 123-00-4567",  # never issued
    "NINO QQ 12 34 56 C",                            # Q is not a first prefix letter
    "version 1.2.3.4.5 and 300.1.1.1",               # not dotted quads
    "at 10:30:00 sharp",                             # a time, not IPv6
    "call 055-123-4567",                             # area codes start 2-9
    "the year 2024 and 42 people",
])
def test_look_alikes_are_not_pii(text):
    assert found(text) == []


def test_a_card_number_is_not_also_a_phone_and_entities_never_overlap():
    text = "Card 4111-1111-1111-1111, mail a@example.com, site https://example.com/a@example.com"
    assert found(text) == [("CREDIT_DEBIT_NUMBER", "4111-1111-1111-1111"), ("EMAIL", "a@example.com"),
                           ("URL", "https://example.com/a@example.com")]


def test_the_response_is_comprehends_shape():
    response = pii.detect_pii_entities("write to a@b.io", "en")
    assert response == {"Entities": [{"Score": 0.9999, "Type": "EMAIL", "BeginOffset": 9, "EndOffset": 15}]}


def test_checksums():
    assert pii.luhn("4111111111111111") and not pii.luhn("4111111111111112")
    assert pii.iban_valid("DE89370400440532013000") and not pii.iban_valid("DE89370400440532013001")
