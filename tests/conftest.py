"""Shared test configuration. The opensearch_llm pytest plugin comes from its entry point.

Every test's captured output (stdout, stderr, logs) is scanned for every secret value the
process knows (``opensearch_llm.secrets.known_secrets`` plus the fakes' keys); a hit fails the
test. Subprocess output is scanned by ``tests.integration.cli_helpers.Cli``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator, Tuple

import pytest

from tests.helpers import FAKE_KEY

_SCRUBBED_PREFIXES = ("DEEPSEEK_", "OLLAMA_", "OPENAI_", "OPENSEARCH_URL", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD",
                      "OPENSEARCH_CA_CERTS", "OPENSEARCH_LLM_JOURNAL_DIR", "OPENSEARCH_LLM_STATE_DIR", "XDG_STATE_HOME")
SCAN = {"outputs": 0, "hits": 0}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests are hermetic: no provider keys, cluster URL or credentials come in from the caller's shell,
    and each test's run journals go to a state directory of its own (never the user's, never another test's)."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENSEARCH_LLM_STATE_DIR", str(tmp_path / "state"))


@pytest.fixture
def deepseek_models() -> Tuple[str, ...]:
    """The models ``deepseek_api`` serves: FakeDeepSeek's defaults (a test module overrides this fixture)."""
    from opensearch_llm.testing.fake_deepseek import DEFAULT_MODELS

    return DEFAULT_MODELS


@pytest.fixture
def deepseek_api(deepseek_models: Tuple[str, ...]) -> Iterator[Any]:
    """A FakeDeepSeek on 127.0.0.1 accepting ``tests.helpers.FAKE_KEY`` (registered, so output is scanned for it)."""
    from opensearch_llm.secrets import register_secret
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    register_secret(FAKE_KEY)
    with FakeDeepSeek(api_key=FAKE_KEY, models=deepseek_models) as server:
        yield server


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    from opensearch_llm.secrets import known_secrets

    secrets = [s for s in known_secrets() if len(s) >= 8]
    for _name, text in report.sections:
        SCAN["outputs"] += 1
        leaked = [s for s in secrets if s in text]
        if leaked:
            SCAN["hits"] += len(leaked)
            report.outcome = "failed"
            report.longrepr = f"secret scanner: {len(leaked)} secret value(s) in captured output of {item.nodeid}"


def pytest_terminal_summary(terminalreporter: Any) -> None:
    import sys

    helpers = sys.modules.get("tests.integration.cli_helpers")
    cli_outputs = helpers.SCANNED["outputs"] if helpers else 0
    terminalreporter.write_line(
        f"secret scanner: {SCAN['outputs']} captured test outputs and {cli_outputs} CLI outputs/files scanned, "
        f"{SCAN['hits']} secret occurrences")
    for what, codes in (helpers.FIGURES.get("live_changes") or []) if helpers else []:
        sent = sum(codes.values())
        terminalreporter.write_line(f"live change under traffic ({what}): {sent} predicts sent, "
                                    f"{sent - codes.get(200, 0)} failed {codes}")
    for first, first_polls, new_up, polls, unchanged, down in (helpers.FIGURES.get("request_counts") or []) \
            if helpers else []:
        terminalreporter.write_line(f"requests per command: first up on the cluster {first} ({first_polls} deploy "
                                    f"polls), new up {new_up} ({polls} polls), unchanged up {unchanged}, down {down}")
    for line in (helpers.FIGURES.get("ghosts") or []) if helpers else []:
        terminalreporter.write_line(f"ghost deployment (served with no model document) appeared during {line}")
    if helpers and any(v for k, v in helpers.FIGURES.items() if k not in ("live_changes", "request_counts", "ghosts")):
        f = helpers.FIGURES
        terminalreporter.write_line(
            f"fault figures: {f['fault_cases']} step x fault cases, {f['faults_injected']} faults injected, "
            f"{f['random_faults']} random 429/503 injected; leftovers before sweep {f['leftovers_before_sweep']}, "
            f"after one sweep {f['leftovers_after_sweep']}; bad blueprints {f['bad_blueprints']}, "
            f"{f['bad_exit2_located']} exited 2 with file:line, {f['bad_cluster_requests']} cluster requests")


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """``OPENSEARCH_LLM_TEST_ORDER=reverse``: run the test files in reverse order (each file's tests keep theirs),
    to show that no test depends on what an earlier one did. Tests of one session-scoped node line stay together."""
    if os.environ.get("OPENSEARCH_LLM_TEST_ORDER") != "reverse":
        return
    groups: dict = {}  # node line (as pytest ordered them) -> file -> tests
    for item in items:
        line = getattr(getattr(item, "callspec", None), "params", {}).get("opensearch_line", "")
        groups.setdefault(line, {}).setdefault(str(item.fspath), []).append(item)
    items[:] = [item for files in groups.values() for path in sorted(files, reverse=True) for item in files[path]]
