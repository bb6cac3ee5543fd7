"""The exit status of every command (README, "Exit status"; docs/local-mode.md).

    0  done: every item has a manifest (SUCCEEDED, or FAILED with its reason: see --strict)
    1  the command could not do its work: the pipeline or AWS could not be reached or refused (one line on
       stderr says why), or an item got no manifest before --timeout
    2  usage: an unknown option, nothing to process
    3  with --strict: at least one item FAILED
"""
from __future__ import annotations

from typing import Iterable

OK, ERROR, USAGE, ITEM_FAILED = 0, 1, 2, 3


def for_items(items: Iterable, *, strict: bool) -> int:
    items = list(items)
    if any(item.state == "TIMED OUT" for item in items):
        return ERROR
    if strict and any((item.manifest or {}).get("status") != "SUCCEEDED" for item in items):
        return ITEM_FAILED
    return OK
