"""Integration tests: every test here talks to a real OpenSearch node."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from tests.integration.cli_helpers import FIGURES, Cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def ours(client: Any) -> list[dict]:
    """Every resource of ours in the cluster."""
    from opensearch_llm import api

    return api.status(client)


def persistent_settings(client: Any) -> dict:
    """The persistent and transient cluster settings, flat."""
    s = client.cluster.get_settings(flat_settings=True)
    return {"persistent": s["persistent"], "transient": s["transient"]}


def served_without_document(client: Any) -> set:
    """Model ids a node serves that have no model document (ghost deployments: only a node restart clears them)."""
    from opensearch_llm.lifecycle.findings import ghosts

    return {g["id"] for g in ghosts(client)}


@pytest.fixture
def clean_cluster(request: pytest.FixtureRequest, opensearch_client: Any) -> Iterator[Any]:
    """Asserts the test leaves none of our resources and the settings as they were; a ghost deployment that appears
    during the test is recorded against it (FIGURES["ghosts"], printed in the summary)."""
    before = persistent_settings(opensearch_client)
    assert ours(opensearch_client) == [], "a previous test left resources behind"
    ghosts_before = served_without_document(opensearch_client)
    yield opensearch_client
    new_ghosts = served_without_document(opensearch_client) - ghosts_before
    if new_ghosts:
        FIGURES.setdefault("ghosts", []).append(f"{request.node.nodeid}: {sorted(new_ghosts)}")
    left = ours(opensearch_client)
    after = persistent_settings(opensearch_client)
    if left or after != before:  # this test fails; the next one starts from the cluster as it was
        _put_back(opensearch_client, left, before)
    assert left == [], f"resources left behind: {left}"
    assert after == before, "cluster settings changed"


def _put_back(client: Any, left: list[dict], before: dict) -> None:
    """Remove what a failing test left and write the settings it found back, so that its leak fails only itself."""
    from opensearch_llm import api

    for _ in range(3):  # a run's connector can wait for another run's model to go (ML Commons' token match)
        for run in {r["run"] for r in ours(client)}:
            try:
                api.down(client, run_id=run, options=api.RunOptions())
            except Exception:  # noqa: BLE001 - whatever stays is still reported by the test's own assertion
                pass
        if not ours(client):
            break
    now = persistent_settings(client)
    for section in ("persistent", "transient"):
        changed = {k: before[section].get(k) for k in {*now[section], *before[section]}
                   if now[section].get(k) != before[section].get(k)}
        if changed:
            client.cluster.put_settings(body={section: changed})


@pytest.fixture
def cli(tmp_path: Any, opensearch_url: str, fake_deepseek: Any, fake_ollama: Any) -> Cli:
    """The CLI pointed at the node under test and at both fakes; the DeepSeek key is scanned for."""
    env = {"OPENSEARCH_URL": opensearch_url, "DEEPSEEK_API_KEY": fake_deepseek.api_key,
           "DEEPSEEK_BASE_URL": fake_deepseek.url, "OLLAMA_BASE_URL": fake_ollama.url,
           "OPENSEARCH_LLM_JOURNAL_DIR": str(tmp_path / "runs")}
    return Cli(tmp_path, env, secrets=[fake_deepseek.api_key])


@pytest.fixture
def fault_proxy(opensearch_url: str) -> Iterator[Any]:
    """A loopback fault-injection proxy in front of the real node."""
    from opensearch_llm.testing.fault_proxy import FaultProxy

    with FaultProxy(opensearch_url) as proxy:
        yield proxy


@pytest.fixture
def proxied_cli(cli: Cli, fault_proxy: Any) -> Cli:
    """The CLI talking to the node through the fault proxy."""
    cli.env["OPENSEARCH_URL"] = fault_proxy.url
    return cli


def fault_case(step: str, fault: str, rule: Any, proxied_cli: Cli, fault_proxy: Any, client: Any,
               up_args: tuple, timeout: str = "2") -> int:
    """``up`` (then ``down`` if it succeeded) with ``rule`` armed in the proxy; assert that nothing is left and
    the settings are as they were straight after the command. Returns how many resources were left."""
    before = persistent_settings(client)
    assert ours(client) == []
    fault_proxy.add(rule)
    env = {"OPENSEARCH_LLM_TIMEOUT": timeout}
    up = proxied_cli("up", *up_args, extra_env=env)
    down = proxied_cli("down", *up_args, extra_env=env) if up.code == 0 else None
    fault_proxy.clear()
    left = ours(client)
    settings_restored = persistent_settings(client) == before
    FIGURES["fault_cases"] += 1
    FIGURES["faults_injected"] += rule.applied
    FIGURES["leftovers_before_sweep"] += len(left)
    if left or not settings_restored:  # clean up for the next case; this case fails below
        proxied_cli("sweep", "--include-up", "--yes")
    assert rule.applied == 1, f"the {step} request never came"
    assert up.code in (0, 1), up
    if up.code == 1:
        assert "rolled back this run" in up.err, up
    assert down is None or down.code == 0, down
    assert left == [], f"{step} x {fault}: resources left straight after the command\n{up}\n{down}"
    assert settings_restored, f"{step} x {fault}: settings not restored straight after the command\n{up}\n{down}"
    return len(left)
