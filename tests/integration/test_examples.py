"""The example pytest suite and the ``provision`` fixture factory, run as users run them: a separate pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from opensearch_llm import api
from tests.integration.cli_helpers import ROOT
from tests.integration.conftest import persistent_settings

EXAMPLE = ROOT / "examples" / "pytest-suite"


def _pytest(target: Path, opensearch_url: str, cwd: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_", "PYTEST_"))}
    return subprocess.run([sys.executable, "-m", "pytest", str(target), "-q", "-p", "no:cacheprovider",
                           "--opensearch-url", opensearch_url, *extra],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def test_example_suite_passes_and_leaves_nothing(opensearch_url: str, clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    proc = _pytest(Path("examples/pytest-suite"), opensearch_url, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout
    assert api.status(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before


def test_provision_tears_down_when_tests_fail(tmp_path: Path, opensearch_url: str, clean_cluster: Any) -> None:
    (tmp_path / "test_failing.py").write_text(textwrap.dedent(f'''
        import pytest
        from opensearch_llm.testing import FakeDeepSeek
        from opensearch_llm.testing.plugin import provision

        @pytest.fixture(scope="session")
        def fake():
            with FakeDeepSeek(api_key="sk-failing-suite-0000") as server:
                yield server

        chat = provision({str(ROOT / "connectors" / "deepseek-chat.yaml")!r}, smoke=False, name="chat",
                         env=lambda request: {{"DEEPSEEK_BASE_URL": request.getfixturevalue("fake").url,
                                              "DEEPSEEK_API_KEY": "sk-failing-suite-0000"}})

        def test_provisioned(chat):
            assert chat.smoke is None and chat.model_id
            print("RUN", chat.run_id)

        def test_fails_on_purpose(chat):
            assert chat.predict("hi").text == "not what the fake says"
    '''), encoding="utf-8")
    proc = _pytest(tmp_path, opensearch_url, tmp_path, "-s")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed, 1 passed" in proc.stdout and "error" not in proc.stdout.splitlines()[-1]
    assert "RUN " in proc.stdout
    assert api.status(clean_cluster) == []


def test_example_readme_names_both_ways_to_load_the_plugin() -> None:
    text = (EXAMPLE / "README.md").read_text(encoding="utf-8")
    assert "opensearch_llm.testing.plugin" in text and "-p opensearch_llm.testing.plugin" in text
    assert "pytest_plugins" not in (EXAMPLE / "conftest.py").read_text(encoding="utf-8").split('"""', 2)[2]
