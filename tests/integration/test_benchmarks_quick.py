"""Every benchmark script runs once in --quick mode against the session node (no timing is asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((ROOT / "benchmarks").glob("p*_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_runs_in_quick_mode(script: Path, opensearch_url: str, clean_cluster: object) -> None:
    proc = subprocess.run([sys.executable, str(script), "--quick", "--url", opensearch_url],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "| figure |" in proc.stdout and "| P" in proc.stdout
