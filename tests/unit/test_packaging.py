"""The wheel ships the typing marker, the JSON Schema, the blueprint catalog, every module and both entry points;
the sdist carries the catalog too, and a wheel built from the sdist holds it; the version is one."""

from __future__ import annotations

import configparser
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import opensearch_llm

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "opensearch_llm"
OFFLINE_HINTS = ("Could not find a version", "No matching distribution", "NewConnectionError",
                 "Failed to establish a new connection", "Temporary failure in name resolution")


def _setuptools_builds_wheels_here() -> bool:
    """True when the installed setuptools can build this project's wheel without fetching anything."""
    spec = importlib.util.find_spec("setuptools")
    if spec is None:
        return False
    import setuptools

    major_minor = tuple(int(p) for p in re.findall(r"\d+", setuptools.__version__)[:2])
    has_bdist_wheel = (importlib.util.find_spec("wheel") is not None
                       or importlib.util.find_spec("setuptools.command.bdist_wheel") is not None)
    return major_minor >= (61, 0) and has_bdist_wheel


def _clean_copy(src: Path) -> Path:
    """What a clean clone holds for the build: metadata, the build hook, the package and connectors/."""
    for name in ("pyproject.toml", "README.md", "setup.py", "MANIFEST.in"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "connectors")  # opensearch_llm/connectors is built
    shutil.copytree(PACKAGE, src / "opensearch_llm", ignore=ignore)
    shutil.copytree(ROOT / "connectors", src / "connectors")
    return src


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The project's wheel, built from a copy of the sources (the checkout gets no build/ directory)."""
    src = _clean_copy(tmp_path_factory.mktemp("src"))
    out = tmp_path_factory.mktemp("dist")
    offline = _setuptools_builds_wheels_here()
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w", str(out), str(src)]
    proc = subprocess.run(cmd + (["--no-build-isolation"] if offline else []), capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 and not offline and any(h in proc.stdout + proc.stderr for h in OFFLINE_HINTS):
        pytest.skip("setuptools/wheel are not installed and no package index is reachable for the build backend")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = list(out.glob("opensearch_llm-*.whl"))
    return zipfile.ZipFile(built)


def test_wheel_ships_typing_marker_and_schema(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    assert "opensearch_llm/py.typed" in names
    assert "opensearch_llm/schema/blueprint.schema.json" in names
    shipped = json.loads(wheel.read("opensearch_llm/schema/blueprint.schema.json"))
    assert shipped == json.loads((PACKAGE / "schema" / "blueprint.schema.json").read_text(encoding="utf-8"))


def test_wheel_ships_every_blueprint_of_connectors(wheel: zipfile.ZipFile) -> None:
    shipped = sorted((ROOT / "connectors").glob("*.yaml"))
    assert len(shipped) >= 6
    in_wheel = sorted(n for n in wheel.namelist() if n.startswith("opensearch_llm/connectors/"))
    assert in_wheel == [f"opensearch_llm/connectors/{p.name}" for p in shipped]
    for path in shipped:
        assert wheel.read(f"opensearch_llm/connectors/{path.name}") == path.read_bytes()


def test_sdist_carries_the_catalog_and_its_wheel_too(tmp_path: Path) -> None:
    """`python -m build` builds the wheel from the sdist: both must hold every blueprint (setuptools' own hooks)."""
    (tmp_path / "src").mkdir()
    src = _clean_copy(tmp_path / "src")
    code = f"from setuptools import build_meta; print(build_meta.build_sdist({str(tmp_path)!r}))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=src, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [sdist] = list(tmp_path.glob("opensearch*llm-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    shipped = {f"connectors/{p.name}" for p in (ROOT / "connectors").glob("*.yaml")}
    assert shipped <= names and "setup.py" in names
    offline = _setuptools_builds_wheels_here()
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-cache-dir", "-q", "-w", str(tmp_path), str(sdist)]
    proc = subprocess.run(cmd + (["--no-build-isolation"] if offline else []), capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0 and not offline and any(h in proc.stdout + proc.stderr for h in OFFLINE_HINTS):
        pytest.skip("setuptools/wheel are not installed and no package index is reachable for the build backend")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [built] = list(tmp_path.glob("opensearch_llm-*.whl"))
    in_wheel = {n.split("/", 1)[1] for n in zipfile.ZipFile(built).namelist() if n.startswith("opensearch_llm/connectors/")}
    assert in_wheel == shipped


def test_wheel_holds_every_module_and_nothing_else(wheel: zipfile.ZipFile) -> None:
    in_wheel = {n for n in wheel.namelist() if n.endswith(".py")}
    in_tree = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts}
    assert in_wheel == in_tree


def test_wheel_declares_console_script_and_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    points = configparser.ConfigParser()
    points.read_string(wheel.read(name).decode())
    assert points["console_scripts"]["opensearch-llm"] == "opensearch_llm.cli:main"
    assert points["pytest11"]["opensearch_llm.testing.plugin"] == "opensearch_llm.testing.plugin"
    [meta] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    assert f"Version: {opensearch_llm.__version__}\n" in wheel.read(meta).decode()


def test_python_m_prints_the_version() -> None:
    proc = subprocess.run([sys.executable, "-m", "opensearch_llm", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"opensearch-llm, version {opensearch_llm.__version__}"


def test_one_version_everywhere() -> None:
    declared = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert declared is not None
    assert declared[1] == opensearch_llm.__version__ == importlib.metadata.version("opensearch-llm")
