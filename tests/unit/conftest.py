"""Unit tests run in a temporary directory, so no ./.env or journal of the caller is read or written."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.unit.ml_double import MLDouble


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: Any) -> Any:
    """Secrets a unit test registers (say an imported connector's literal "dummy") are forgotten after the test and
    its secret scan, so that no later test finds its own text masked: the tests pass in any order."""
    # pytest calls this hook for every item, not only those under tests/unit: the integration tests' session
    # fixtures (a secured node's passwords) must stay registered for the whole session
    if not Path(str(item.fspath)).resolve().is_relative_to(Path(__file__).resolve().parent):
        yield
        return
    from opensearch_llm import secrets

    with secrets._lock:
        before = set(secrets._registry)
    yield
    with secrets._lock:
        secrets._registry.intersection_update(before)


@pytest.fixture
def double() -> "MLDouble":
    """The ML Commons double (see :mod:`tests.unit.ml_double`)."""
    from tests.unit.ml_double import MLDouble

    return MLDouble(deploy_polls=1)


@pytest.fixture
def client(double: "MLDouble") -> Any:
    """An opensearch-py client talking to ``double`` through the toolkit's seam."""
    from tests.unit.ml_double import double_client

    return double_client(double)
