"""The pytest plugin is installed with the package: sessions that use none of its fixtures hear nothing from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _session(tmp_path: Path, test: str) -> str:
    (tmp_path / "test_other.py").write_text(test)
    env = {**os.environ, "OPENSEARCH_URL": "http://127.0.0.1:9"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--collect-only",
                           str(tmp_path / "test_other.py")], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_a_session_without_our_fixtures_prints_nothing_of_ours(tmp_path: Path) -> None:
    assert "opensearch-llm" not in _session(tmp_path, "def test_plain():\n    assert 1 + 1 == 2\n")


def test_a_session_using_a_cluster_fixture_is_told_about_the_ignored_url(tmp_path: Path) -> None:
    out = _session(tmp_path, "def test_node(opensearch_client):\n    pass\n")
    assert "OPENSEARCH_URL is set and ignored" in out
