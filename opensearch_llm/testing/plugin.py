"""pytest plugin: a real OpenSearch node per session, the offline upstream fakes, and provisioned blueprints.

Loaded by the ``pytest11`` entry point (named ``opensearch_llm.testing.plugin``) whenever the package is
installed; without the entry point (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``, a plain checkout on
``PYTHONPATH``) load it with ``-p opensearch_llm.testing.plugin`` or
``pytest_plugins = ["opensearch_llm.testing.plugin"]`` in the top-level ``conftest.py``.

Options: ``--opensearch-url URL`` uses an existing cluster (only when given on the command line:
``OPENSEARCH_URL`` in the environment is ignored, so a shell set up for your own cluster never
runs tests against it); otherwise the local launcher starts one node per line in ``--opensearch-lines``
(default ``2.19,3``), one at a time, and tests that use ``opensearch_url`` run once per line.
``--opensearch-backend docker`` uses testcontainers instead.

Fixtures: ``opensearch_node``, ``opensearch_url``, ``opensearch_client`` (session scope),
``fake_deepseek`` and ``fake_ollama`` (one offline server per test).  ``opensearch_secured_node``
(session scope, started only when a test asks for it, never parametrised over lines) is a local 2.19.1
node with the security plugin: a :class:`SecuredNode` with ``url`` (https), ``ca_certs``,
``username``/``password`` (admin, all_access) and ``ml_user``/``ml_password`` (``ml_full_access`` only);
both passwords are registered with the secret masker.  ``opensearch_cluster`` (session scope, started only
when a test asks for it) is a local 3-node cluster: a :class:`opensearch_llm.local.LocalCluster` with ``url``,
``nodes`` (name, roles, ports, pid), ``kill_node(name)`` (SIGKILL) and ``start_node(name)`` (waits until the
node has rejoined); its line is ``$OPENSEARCH_LLM_TEST_CLUSTER_LINE``, else the first of the lines above.

``llama_server`` (session scope) is llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``, the
``llama`` extra) on loopback with a tiny model the suite writes itself, answering ``pong`` to everything; its
``url`` ends in ``/v1`` and ``alias`` is the model id it lists. ``llama_server_factory(kind="fixed" | "random",
api_key=None, alias="tiny-pong")`` starts more (all stop with the session). Both skip, naming why, where the
extra is not installed, and fail instead when ``OPENSEARCH_LLM_REQUIRE_LLAMA`` is set.

Provisioned blueprints for your own suites: :func:`provision` makes a fixture that loads a blueprint,
runs ``api.up`` against the session cluster with run-scoped names (like ``smoke``), yields a
:class:`ProvisionedBlueprint` and always tears that run down afterwards (``down --run``), whether the
tests passed or not; a teardown that leaves anything behind is reported as a fixture error::

    # conftest.py or a test module
    from pathlib import Path
    from opensearch_llm.testing.plugin import provision

    deepseek = provision(Path(__file__).parent / "connectors/deepseek-chat.yaml", scope="session",
                         env={"DEEPSEEK_API_KEY": "sk-..."}, overrides=["deploy.timeout=2m"])

    def test_answers(deepseek):
        assert deepseek.model_id == deepseek.ids["model"]
        assert "pong" in deepseek.predict("Reply with the single word pong").text.lower()

``env`` overlays ``os.environ`` for ``${env:...}``; it may also be a callable that receives the
``pytest.FixtureRequest`` and returns the mapping, so it can use other fixtures (for example a
session-scoped ``FakeDeepSeek``: ``env=lambda request: {"DEEPSEEK_BASE_URL":
request.getfixturevalue("my_fake").url, ...}``).  Relative blueprint paths resolve against the
current directory.  The fixture's name is the name you assign it to (or ``name=``).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TYPE_CHECKING

import pytest

from opensearch_llm.testing.provision import ProvisionedBlueprint, provision  # noqa: F401 - importable from here

if TYPE_CHECKING:
    pass

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
    # never from OPENSEARCH_URL: the tests write cluster settings and sweep
    return config.getoption("--opensearch-url") or None


def _cluster_notice(config: pytest.Config) -> Optional[str]:
    url = _external_url(config)
    if url:
        return (f"opensearch-llm: TESTS RUN AGAINST THE EXISTING CLUSTER {url} (--opensearch-url): they change "
                "its ML Commons settings and sweep resources of ours")
    if os.environ.get("OPENSEARCH_URL"):
        return ("opensearch-llm: OPENSEARCH_URL is set and ignored; the tests start their own node "
                "(pass --opensearch-url to use an existing cluster)")
    return None


CLUSTER_FIXTURES = frozenset({"opensearch_node", "opensearch_url", "opensearch_client", "opensearch_cluster",
                              "opensearch_secured_node"})


def pytest_collection_finish(session: pytest.Session) -> None:
    """Say which cluster the tests change, only in sessions with a test that uses one (none otherwise)."""
    if not any(CLUSTER_FIXTURES & set(getattr(item, "fixturenames", ())) for item in session.items):
        return
    notice = _cluster_notice(session.config)
    if notice:  # loud even under -q: a suite must never surprise anyone about which cluster it changes
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(notice, yellow=True, bold=True)
        else:
            sys.stderr.write(notice + "\n")


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


def _reap_dead_sessions() -> None:
    """Stop nodes of earlier pytest sessions that died without stopping them (their pid is gone)."""
    from opensearch_llm.local import LocalNode
    from opensearch_llm.paths import instances_dir
    from opensearch_llm.local.process import pid_alive

    root = instances_dir()
    for entry in root.glob("pytest-*-*") if root.exists() else []:
        owner = entry.name.rsplit("-", 1)[1]
        if owner.isdigit() and not pid_alive(int(owner)):
            LocalNode(name=entry.name).stop(purge=True)


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
    _reap_dead_sessions()
    node = Node(opensearch_line, name=f"pytest-{opensearch_line}-{os.getpid()}", progress=_progress)
    node.start()
    try:
        yield node
    finally:
        node.stop(purge=True)


@dataclass(frozen=True)
class SecuredNode:
    """What ``opensearch_secured_node`` yields: a local node with the security plugin and its two users."""

    url: str
    ca_certs: str
    username: str
    password: str = field(repr=False)
    ml_user: str
    ml_password: str = field(repr=False)
    node: Any = field(repr=False, default=None)


@pytest.fixture(scope="session")
def opensearch_secured_node() -> Iterator[SecuredNode]:
    """A local OpenSearch 2.19.1 with the security plugin (TLS, admin and ml-user) for the session."""
    from opensearch_llm.local import LocalNode, SECURE_VERSION
    from opensearch_llm.local.security import read_secret
    from opensearch_llm.secrets import register_secret

    _reap_dead_sessions()
    node = LocalNode(SECURE_VERSION, secure=True, name=f"pytest-secure-{os.getpid()}", progress=_progress)
    info = node.start()
    try:
        password, ml_password = read_secret(Path(info.password_file)), read_secret(Path(info.ml_password_file))
        register_secret(password)
        register_secret(ml_password)
        yield SecuredNode(url=info.url, ca_certs=str(info.ca_certs), username=str(info.username), password=password,
                          ml_user=str(info.ml_user), ml_password=ml_password, node=node)
    finally:
        node.stop(purge=True)


@pytest.fixture(scope="session")
def opensearch_cluster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local 3-node cluster for the session: node-1 cluster_manager+data+ingest, node-2 and node-3 ``ml``.

    Yields the :class:`opensearch_llm.local.LocalCluster` (``url``, ``nodes``, ``kill_node``, ``start_node``);
    stops it and deletes its data at the end of the session. Skipped with ``--opensearch-url``: its faults
    need local processes.
    """
    if _external_url(request.config):
        pytest.skip("opensearch_cluster kills and starts local nodes: not with --opensearch-url")
    from opensearch_llm.local import LocalCluster

    _reap_dead_sessions()
    line = os.environ.get("OPENSEARCH_LLM_TEST_CLUSTER_LINE") or _lines(request.config)[0]
    cluster = LocalCluster(line, nodes=3, name=f"pytest-cluster-{os.getpid()}", progress=_progress)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop(purge=True)


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
    from opensearch_llm.secrets import register_secret
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    register_secret("sk-fake-0123456789abcdef")  # so output scanners know to look for it
    with FakeDeepSeek(api_key="sk-fake-0123456789abcdef") as server:
        yield server


REQUIRE_LLAMA = "OPENSEARCH_LLM_REQUIRE_LLAMA"  # set by .ci/run: a missing llama.cpp server fails, never skips


@pytest.fixture(scope="session")
def llama_server_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., Any]]:
    """Start llama.cpp's OpenAI-compatible server (``opensearch_llm.testing.llama_server.LlamaServer``) on loopback:
    ``factory(kind="fixed" | "random", api_key=None, alias="tiny-pong")``; every server stops with the session.
    Needs the ``llama`` extra; skipped with the reason where it cannot be installed (failed when
    ``$OPENSEARCH_LLM_REQUIRE_LLAMA`` is set, as in this project's CI)."""
    from opensearch_llm.testing.llama_server import LlamaServer, available

    why = available()
    if why:
        if os.environ.get(REQUIRE_LLAMA):
            pytest.fail(f"llama.cpp's server is required here (${REQUIRE_LLAMA}): {why}")
        pytest.skip(why)
    started: list[LlamaServer] = []

    def factory(kind: str = "fixed", api_key: Optional[str] = None, alias: str = "tiny-pong") -> LlamaServer:
        server = LlamaServer(tmp_path_factory.mktemp("llama"), kind=kind, alias=alias, api_key=api_key).start()
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def llama_server(llama_server_factory: Callable[..., Any]) -> Any:
    """llama.cpp's server with a tiny model that answers ``pong`` to everything; ``url`` ends in ``/v1``."""
    return llama_server_factory()


@pytest.fixture
def fake_ollama() -> Iterator[Any]:
    """A fake Ollama server on 127.0.0.1."""
    from opensearch_llm.testing.fake_ollama import FakeOllama

    with FakeOllama() as server:
        yield server

