"""PII detection behind the emulated Comprehend DetectPiiEntities and Transcribe content redaction: patterns and
checksums only (the standard library; no model, nothing downloaded), answering in Comprehend's response shape.

Covered, with Comprehend's entity type names:

| type                                | how it is recognised                                                    |
|-------------------------------------|-------------------------------------------------------------------------|
| `URL`                               | http(s)://… or www.…                                                    |
| `EMAIL`                             | local@domain.tld                                                        |
| `INTERNATIONAL_BANK_ACCOUNT_NUMBER` | country code, check digits, 11–30 letters/digits; ISO 13616 mod-97 == 1 |
| `CREDIT_DEBIT_NUMBER`               | 13–19 digits (spaces or dashes allowed); Luhn check                     |
| `CA_SOCIAL_INSURANCE_NUMBER`        | 3-3-3 digits with separators; Luhn check, first digit not 8           |
| `UK_NATIONAL_INSURANCE_NUMBER`      | two prefix letters (HMRC's excluded letters and pairs refused), six digits, suffix A–D |
| `SSN`                               | 3-2-4 digits with dashes or spaces; the never-issued areas/groups/serials (000, 666, 9xx, 00, 0000) refused |
| `IP_ADDRESS`                        | IPv4 dotted quads (each 0–255); IPv6 validated by `ipaddress`           |
| `MAC_ADDRESS`                       | six hex pairs separated by `:` or `-`                                   |
| `PHONE`                             | `+` country code and 8–15 digits; North American (NPA) NXX-XXXX with an area code 2–9 |

Not covered: names, postal addresses, dates, and every other type Comprehend finds with its model.
Where two candidates overlap, the earlier row of the table wins (a Luhn-valid card number is not also a phone).
"""
from __future__ import annotations

import ipaddress
import re
from typing import Any, Callable

from media_pipeline.local.engines import timed

Validator = Callable[[str], bool]


def luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _card(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and digits[0] != "0" and luhn(digits)


def iban_valid(text: str) -> bool:
    compact = re.sub(r"\s", "", text).upper()
    if not 15 <= len(compact) <= 34 or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _sin(text: str) -> bool:
    digits = _digits(text)
    return len(digits) == 9 and digits[0] != "8" and luhn(digits)  # 8: business numbers


_NINO_EXCLUDED_PREFIXES = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"}


def _nino(text: str) -> bool:
    prefix = text[:2].upper()
    return prefix not in _NINO_EXCLUDED_PREFIXES


def _ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    digits = _digits(text)
    if text.lstrip().startswith("+"):
        return 8 <= len(digits) <= 15
    return len(digits) in (10, 11)


_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
# (type, pattern, validator, score); the order is the priority on overlaps.
PATTERNS: list[tuple[str, re.Pattern[str], Validator | None, float]] = [
    ("URL", re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+[^\s<>\"'.,;:!?)\]]"), None, 0.9999),
    ("EMAIL", re.compile(r"\b[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}\b"), None, 0.9999),
    ("INTERNATIONAL_BANK_ACCOUNT_NUMBER",
     re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"), iban_valid, 0.9999),
    ("CREDIT_DEBIT_NUMBER", re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])"), _card, 0.9999),
    ("CA_SOCIAL_INSURANCE_NUMBER", re.compile(r"(?<![\d-])\d{3}[ -]\d{3}[ -]\d{3}(?![\d-])"), _sin, 0.99),
    ("UK_NATIONAL_INSURANCE_NUMBER",
     re.compile(r"\b(?![DFIQUV])[A-Z](?![DFIQUVO])[A-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"), _nino, 0.99),
    ("SSN", re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\d-])"), None, 0.99),
    ("IP_ADDRESS", re.compile(rf"(?<![\d.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)"), None, 0.999),
    ("IP_ADDRESS", re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"), _ipv6, 0.999),
    ("MAC_ADDRESS", re.compile(r"\b[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})(?:\1[0-9A-Fa-f]{2}){4}\b"), None, 0.999),
    ("PHONE", re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)"), _phone, 0.99),
    ("PHONE", re.compile(r"(?<![\w+-])(?:1[ .-]?)?(?:\([2-9]\d{2}\)|[2-9]\d{2})[ .-]?[2-9]\d{2}[ .-]\d{4}(?![\d-])"),
     _phone, 0.99),
]

TYPES = tuple(dict.fromkeys(kind for kind, _, _, _ in PATTERNS))


def find_entities(text: str) -> list[dict[str, Any]]:
    """The PII in `text` as Comprehend's entities ({"Type", "BeginOffset", "EndOffset", "Score"}; offsets in
    characters), in text order, never overlapping."""
    accepted: list[tuple[int, int, str, float]] = []
    for kind, pattern, valid, score in PATTERNS:
        for match in pattern.finditer(text):
            begin, end = match.span()
            if valid is not None and not valid(match.group(0)):
                continue
            if any(begin < b_end and b_begin < end for b_begin, b_end, _, _ in accepted):
                continue
            accepted.append((begin, end, kind, score))
    accepted.sort()
    return [{"Score": score, "Type": kind, "BeginOffset": begin, "EndOffset": end}
            for begin, end, kind, score in accepted]


def detect_pii_entities(text: str, language: str = "en") -> dict[str, Any]:
    """Comprehend's DetectPiiEntities response for `text`: {"Entities": [...]}."""
    with timed("pii"):
        return {"Entities": find_entities(text)}
