"""On/off settings read one way: both spellings the deployment writes, and an error for anything else."""
from __future__ import annotations

import pytest

from media_pipeline.settings import switch


@pytest.mark.parametrize("value, expected", [("enabled", True), ("disabled", False), ("true", True), ("False", False),
                                             (" ON ", True), ("0", False)])
def test_a_switch_reads_both_spellings(value, expected):
    assert switch({"PII_REDACTION": value}, "PII_REDACTION", default=not expected) is expected


def test_an_unset_switch_takes_its_default():
    assert switch({}, "KEEP_UNREDACTED", default=True) is True
    assert switch({"PII_REDACTION": ""}, "PII_REDACTION", default=False) is False


def test_a_misspelt_switch_is_an_error_not_off():
    with pytest.raises(ValueError, match="PII_REDACTION='enabeld'"):
        switch({"PII_REDACTION": "enabeld"}, "PII_REDACTION", default=False)
