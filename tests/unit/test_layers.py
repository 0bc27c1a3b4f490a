"""The import contracts of pyproject.toml ([tool.importlinter]) hold, and they catch an upward import."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lint(cwd: Path) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [shutil.which("lint-imports") or "lint-imports"]
    return subprocess.run([*command, "--no-cache", "--config", str(cwd / "pyproject.toml")], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env={"PATH": "/usr/bin:/bin",
                                                                            "PYTHONPATH": str(cwd)})


def test_the_layers_and_the_acyclic_contract_hold() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_an_import_from_a_resource_up_into_the_lifecycle_breaks_them(tmp_path: Path) -> None:
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "opensearch_llm", tmp_path / "opensearch_llm", ignore=shutil.ignore_patterns("__pycache__"))
    connector = tmp_path / "opensearch_llm" / "resources" / "connector.py"
    connector.write_text(connector.read_text() + "\n\ndef _upward() -> None:\n"
                         "    from opensearch_llm.lifecycle import plan  # noqa: F401\n")
    done = _lint(tmp_path)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "opensearch_llm.resources.connector -> opensearch_llm.lifecycle.plan" in done.stdout
