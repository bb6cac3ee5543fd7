"""pyflakes over the project's Python: unused imports and undefined names fail the suite."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_pyflakes_findings():
    paths = ["app.py", "infra", "functions", "media_pipeline", "containers", "benchmarks", "tests", "samples"]
    result = subprocess.run([sys.executable, "-m", "pyflakes", *paths], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == "", result.stdout
