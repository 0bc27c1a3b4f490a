"""The tool as a new user gets it: the built wheel in a fresh venv outside the checkout, run from an empty directory.

`blueprints`, `validate NAME`, `init NAME` and `up`/`predict`/`down` by shipped name against the suite's node and the
offline DeepSeek; the package must come from the venv, never from this checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "connectors").glob("*.yaml"))
OFFLINE_HINTS = ("Could not find a version", "No matching distribution", "NewConnectionError",
                 "Failed to establish a new connection", "Temporary failure in name resolution")


def _pip(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The venv's bin directory, with only the wheel built from a clean copy of the sources installed."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "opensearch_llm", src / "opensearch_llm",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "connectors"))
    shutil.copytree(ROOT / "connectors", src / "connectors")
    dist = tmp_path_factory.mktemp("dist")
    built = _pip("wheel", "--no-deps", "--no-cache-dir", "-q", "-w", str(dist), str(src))
    if built.returncode != 0 and any(h in built.stdout + built.stderr for h in OFFLINE_HINTS):
        pytest.skip("no package index reachable for the build backend")
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = list(dist.glob("opensearch_llm-*.whl"))
    home = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False).create(home)
    _see_dependencies_of_this_interpreter(home)
    python = home / "bin" / "python"
    done = _pip("--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel))
    assert done.returncode == 0, done.stdout + done.stderr
    yield home / "bin"


def _see_dependencies_of_this_interpreter(home: Path) -> None:
    """Put the site directories of the interpreter running the tests after the new venv's own.

    ``system_site_packages`` would not do: inside a venv (how most users run the suite) it means the base
    interpreter's site-packages, without the dependencies installed into that venv. A path in a ``.pth`` file
    is appended to ``sys.path`` without its own ``.pth`` files being run, so this checkout's editable install
    stays invisible, and the venv's own site-packages (with the wheel) comes first.
    """
    purelib = Path(sysconfig.get_path("purelib", vars={"base": str(home), "platbase": str(home)}))
    outer = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages") and Path(p).is_dir()]
    (purelib / "outer-interpreter.pth").write_text("".join(f"{p}\n" for p in outer))


def _env(**extra: str) -> Dict[str, str]:
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENAI_", "OPENSEARCH_", "PYTHON"))}
    return {**keep, **extra}


def _run(bin_dir: Path, cwd: Path, *args: str, env: Dict[str, str], secret: str = "") -> Tuple[int, str, str]:
    proc = subprocess.run([str(bin_dir / "opensearch-llm"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    if secret:
        assert secret not in proc.stdout + proc.stderr, "a secret leaked into the output"
    return proc.returncode, proc.stdout, proc.stderr


def test_the_package_comes_from_the_venv(installed: Path, tmp_path: Path) -> None:
    code = "import opensearch_llm, opensearch_llm.catalog as c; print(opensearch_llm.__file__); print(c.catalog_dir())"
    proc = subprocess.run([str(installed / "python"), "-c", code], cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    package, catalog = proc.stdout.split()
    venv_root = installed.parent.resolve()
    assert Path(package).resolve().is_relative_to(venv_root), package
    assert Path(catalog).resolve().is_relative_to(venv_root) and Path(catalog).name == "connectors"


def test_blueprints_validate_and_init_from_an_empty_directory(installed: Path, tmp_path: Path) -> None:
    code, out, err = _run(installed, tmp_path, "blueprints", "--json", env=_env())
    assert code == 0, err
    listed = json.loads(out)
    assert [e["name"] for e in listed] == SHIPPED
    assert all(Path(e["file"]).resolve().is_relative_to(installed.parent.resolve()) for e in listed)
    key = "sk-wheel-test-0123456789"
    code, out, err = _run(installed, tmp_path, "validate", "deepseek-chat", env=_env(DEEPSEEK_API_KEY=key), secret=key)
    assert code == 0, err
    assert "(deepseek-chat)" in out
    code, _out, err = _run(installed, tmp_path, "validate", "no-such-blueprint", env=_env())
    assert code == 2 and "openai-compatible" in err
    code, out, err = _run(installed, tmp_path, "init", "ollama-chat", env=_env())
    assert code == 0, err
    copy = tmp_path / "ollama-chat.yaml"
    first = copy.read_text(encoding="utf-8").splitlines()[0]
    schema = Path(first.split("$schema=file://", 1)[1])
    assert schema.is_file() and schema.resolve().is_relative_to(installed.parent.resolve())
    code, _out, err = _run(installed, tmp_path, "validate", "ollama-chat.yaml", env=_env())
    assert code == 0, err


def test_up_predict_down_by_name(installed: Path, tmp_path: Path, opensearch_url: str, fake_deepseek: Any,
                                 clean_cluster: Any) -> None:
    env = _env(OPENSEARCH_URL=opensearch_url, DEEPSEEK_API_KEY=fake_deepseek.api_key,
               DEEPSEEK_BASE_URL=fake_deepseek.url, OPENSEARCH_LLM_JOURNAL_DIR=str(tmp_path / "runs"))
    secret = fake_deepseek.api_key
    code, out, err = _run(installed, tmp_path, "up", "deepseek-chat", env=env, secret=secret)
    assert code == 0, err
    assert "smoke ok" in out
    code, out, err = _run(installed, tmp_path, "predict", "deepseek-chat", "--message", "Say pong", env=env,
                          secret=secret)
    assert code == 0, err
    assert "pong" in out.lower()
    code, out, err = _run(installed, tmp_path, "down", "deepseek-chat", env=env, secret=secret)
    assert code == 0, err
