"""Importing a handler creates no AWS client (cold starts bill the INIT phase)."""
from pathlib import Path

import pytest

from benchmarks.import_times import measure

FUNCTIONS = sorted(p.name for p in (Path(__file__).parents[2] / "functions").iterdir() if (p / "handler.py").exists())


@pytest.mark.parametrize("name", FUNCTIONS)
def test_importing_a_handler_creates_no_client(name):
    _, clients = measure(f"import functions.{name}.handler", runs=1)
    assert clients == 0
