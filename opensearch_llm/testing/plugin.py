"""pytest plugin: a real OpenSearch node per session and the offline upstream fakes.

Loaded by the ``pytest11`` entry point, or with ``pytest_plugins = ["opensearch_llm.testing.plugin"]``.

Options: ``--opensearch-url URL`` (or ``OPENSEARCH_URL``) uses an existing cluster;
otherwise the local launcher starts one node per line in ``--opensearch-lines``
(default ``2.19,3``), one at a time, and tests that use ``opensearch_url`` run once per line.
``--opensearch-backend docker`` uses testcontainers instead.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterator

import pytest

DEFAULT_LINES = "2.19,3"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("opensearch-llm")
    group.addoption("--opensearch-url", default=None, help="Use this cluster instead of starting one.")
    group.addoption("--opensearch-lines", default=None,
                    help=f"OpenSearch lines to start locally (default {DEFAULT_LINES}, or $OPENSEARCH_LLM_TEST_LINES).")
    group.addoption("--opensearch-backend", default="local", choices=("local", "docker"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: needs a real OpenSearch node with ML Commons")


def _external_url(config: pytest.Config) -> str | None:
    return config.getoption("--opensearch-url") or os.environ.get("OPENSEARCH_URL") or None


def _lines(config: pytest.Config) -> list[str]:
    if _external_url(config):
        return ["external"]
    raw = config.getoption("--opensearch-lines") or os.environ.get("OPENSEARCH_LLM_TEST_LINES") or DEFAULT_LINES
    return [line.strip() for line in raw.split(",") if line.strip()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "opensearch_line" in metafunc.fixturenames:
        metafunc.parametrize("opensearch_line", _lines(metafunc.config), scope="session")


def _progress(message: str) -> None:
    sys.stderr.write(f"[opensearch-llm] {message}\n")


@pytest.fixture(scope="session")
def opensearch_node(request: pytest.FixtureRequest, opensearch_line: str) -> Iterator[Any]:
    """A running node for ``opensearch_line`` (None when an external cluster is used)."""
    if opensearch_line == "external":
        yield None
        return
    if request.config.getoption("--opensearch-backend") == "docker":
        from opensearch_llm.local.docker import DockerNode as Node
    else:
        from opensearch_llm.local import LocalNode as Node
    node = Node(opensearch_line, name=f"pytest-{opensearch_line}", progress=_progress)
    node.start()
    try:
        yield node
    finally:
        node.stop(purge=True)


@pytest.fixture(scope="session")
def opensearch_url(request: pytest.FixtureRequest, opensearch_node: Any) -> str:
    """The URL of the cluster under test."""
    return _external_url(request.config) or opensearch_node.url


@pytest.fixture(scope="session")
def opensearch_client(opensearch_url: str) -> Any:
    """An opensearch-py client for the cluster under test (through the toolkit's seam)."""
    from opensearch_llm.client import ConnectionSettings, connect

    return connect(ConnectionSettings(url=opensearch_url))


@pytest.fixture
def fake_deepseek() -> Iterator[Any]:
    """A fake DeepSeek (OpenAI-compatible) API on 127.0.0.1; its key is ``fake_deepseek.api_key``."""
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    with FakeDeepSeek(api_key="sk-fake-0123456789abcdef") as server:
        yield server


@pytest.fixture
def fake_ollama() -> Iterator[Any]:
    """A fake Ollama server on 127.0.0.1."""
    from opensearch_llm.testing.fake_ollama import FakeOllama

    with FakeOllama() as server:
        yield server
