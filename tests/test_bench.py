"""The benchmarks in quick mode, so they cannot rot (figures are printed, never asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_in_quick_mode():
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    sections = [line for line in done.stdout.splitlines() if line.startswith("## ")]
    assert len(sections) == 8
    assert done.stdout.count("|---") >= 8
