"""Many runners, one cluster (issue 22): what teardown needs is in the cluster, concurrent runs converge, a run in
progress elsewhere is never swept, and a failed look-up is never taken for "nothing there".

Each "runner" is the CLI with its own empty state directory; the runner that tears down has no provider key.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable

import pytest

from opensearch_llm.testing.fake_deepseek import FakeDeepSeek
from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import Cli, Result
from tests.integration.conftest import ours

TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
BUSY = "another run is provisioning"


def raw_settings(url: str) -> bytes:
    """``GET _cluster/settings`` exactly as the cluster answers it."""
    with urllib.request.urlopen(f"{url}/_cluster/settings", timeout=30) as answer:
        return answer.read()


def runner(cli: Cli, tmp_path: Path, name: str, key: bool = True, **env: str) -> Cli:
    """The CLI as another CI runner would run it: its own empty state directory, and without the key if asked."""
    state = tmp_path / f"runner-{name}"
    extra = {"OPENSEARCH_LLM_JOURNAL_DIR": str(state / "runs"), "OPENSEARCH_LLM_STATE_DIR": str(state), **env}
    if not key:
        extra["DEEPSEEK_API_KEY"] = ""
    return Cli(cli.cwd, {**cli.env, **extra}, secrets=cli.secrets)


def counts(client: Any) -> dict:
    """How many resources of ours there are, by kind."""
    found: dict = {}
    for row in ours(client):
        found[row["kind"]] = found.get(row["kind"], 0) + 1
    return found


def together(*calls: Callable[[], Result]) -> list[Result]:
    """Run the calls at the same moment, each in its own thread (each starts its own process)."""
    results: list = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i: int) -> None:
        start.wait()
        results[i] = calls[i]()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


REMOVALS = {
    "down": lambda other, run: other("down", "deepseek-chat"),
    "down --run": lambda other, run: other("down", "--run", run),
    "sweep --include-up": lambda other, run: other("sweep", "--include-up", "--yes"),
}


@pytest.mark.parametrize("removal", sorted(REMOVALS))
def test_another_runner_without_key_or_journal_restores_the_settings_exactly(
        removal: str, cli: Cli, clean_cluster: Any, opensearch_url: str, tmp_path: Path) -> None:
    before = raw_settings(opensearch_url)
    up = runner(cli, tmp_path, "a")("up", "deepseek-chat", "--json")
    assert up.code == 0, up
    assert raw_settings(opensearch_url) != before, "the fake's endpoint needs a trusted entry and private IPs"
    other = runner(cli, tmp_path, "b", key=False)
    gone = REMOVALS[removal](other, up.json()["run_id"])
    assert gone.code == 0, gone
    assert ours(clean_cluster) == []
    assert raw_settings(opensearch_url) == before, gone


def test_an_admins_settings_are_restored_from_another_runner(cli: Cli, clean_cluster: Any, opensearch_url: str,
                                                              tmp_path: Path) -> None:
    before = raw_settings(opensearch_url)
    applied = runner(cli, tmp_path, "a")("settings", "deepseek-chat")
    assert applied.code == 0, applied
    assert raw_settings(opensearch_url) != before
    listed = runner(cli, tmp_path, "c")("sweep", "--include-up", "--yes")
    assert listed.code == 0 and raw_settings(opensearch_url) != before, "sweep took an admin's standing settings"
    restored = runner(cli, tmp_path, "b", key=False)("settings", "deepseek-chat", "--restore")
    assert restored.code == 0, restored
    assert ours(clean_cluster) == [] and raw_settings(opensearch_url) == before, restored


def test_two_blueprints_on_one_endpoint_keep_the_entry_until_both_are_gone(
        cli: Cli, clean_cluster: Any, opensearch_url: str, tmp_path: Path, fake_deepseek: Any) -> None:
    before = raw_settings(opensearch_url)
    first = runner(cli, tmp_path, "a")
    for name in ("deepseek-chat", "deepseek-reasoner"):
        assert first("up", name, "--no-smoke").code == 0
    entry = "^" + fake_deepseek.url.replace(".", "\\.") + "/.*$"
    assert entry in clean_cluster.cluster.get_settings(flat_settings=True)["persistent"][TRUSTED]
    one = runner(cli, tmp_path, "b", key=False)("down", "deepseek-chat")
    assert one.code == 0, one
    assert entry in clean_cluster.cluster.get_settings(flat_settings=True)["persistent"][TRUSTED], one
    both = runner(cli, tmp_path, "c", key=False)("down", "deepseek-reasoner")
    assert both.code == 0, both
    assert raw_settings(opensearch_url) == before, both


def test_twenty_ci_runs_on_their_own_ports_leave_the_trusted_list_as_it_was(
        cli: Cli, clean_cluster: Any, tmp_path: Path) -> None:
    def trusted() -> Any:
        s = clean_cluster.cluster.get_settings(include_defaults=True, flat_settings=True)
        return {**s["defaults"], **s["persistent"]}.get(TRUSTED)

    first = trusted()
    for i in range(20):
        with FakeDeepSeek(api_key=cli.env["DEEPSEEK_API_KEY"]) as fake:
            run = runner(cli, tmp_path, "ab"[i % 2], DEEPSEEK_BASE_URL=fake.url)("smoke", "deepseek-chat", "--json")
        assert run.code == 0, run
    assert trusted() == first
    assert ours(clean_cluster) == []


def test_two_ups_of_one_blueprint_at_once_end_with_one_set(cli: Cli, clean_cluster: Any, tmp_path: Path) -> None:
    a, b = runner(cli, tmp_path, "a"), runner(cli, tmp_path, "b")
    for attempt in range(10):
        results = together(lambda: a("up", "deepseek-chat", "--no-smoke"), lambda: b("up", "deepseek-chat", "--no-smoke"))
        for result in results:
            assert result.code == 0 or (result.code == 1 and BUSY in result.err), result
        assert counts(clean_cluster) == {"model_group": 1, "connector": 1, "model": 1}, (attempt, *results)
        down = b("down", "deepseek-chat")
        assert down.code == 0 and ours(clean_cluster) == [], down


def test_two_blueprints_at_once_keep_both_entries(cli: Cli, clean_cluster: Any, tmp_path: Path) -> None:
    a, b = runner(cli, tmp_path, "a"), runner(cli, tmp_path, "b")
    with FakeDeepSeek(api_key=cli.env["DEEPSEEK_API_KEY"]) as other:
        for attempt in range(10):
            results = together(lambda: a("up", "deepseek-chat", "--no-smoke"),
                               lambda: b("up", "deepseek-reasoner", "--no-smoke", extra_env={
                                   "DEEPSEEK_BASE_URL": other.url}))
            assert [r.code for r in results] == [0, 0], results
            trusted = clean_cluster.cluster.get_settings(flat_settings=True)["persistent"][TRUSTED]
            for url in (a.env["DEEPSEEK_BASE_URL"], other.url):
                assert "^" + url.replace(".", "\\.") + "/.*$" in trusted, (attempt, trusted)
            assert a("down", "deepseek-chat").code == 0
            assert b("down", "deepseek-reasoner", extra_env={"DEEPSEEK_BASE_URL": other.url}).code == 0
            assert ours(clean_cluster) == []


def _background(cli: Cli, *args: str, **env: str) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))}
    full.update({**cli.env, **env})
    return subprocess.Popen([sys.executable, "-m", "opensearch_llm", *args], cwd=cli.cwd, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until_model_exists(client: Any, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if counts(client).get("model"):
            return
        time.sleep(0.2)
    raise AssertionError("the run never registered its model")


def test_a_sweep_elsewhere_leaves_a_smoke_in_progress_alone(cli: Cli, clean_cluster: Any, opensearch_url: str,
                                                            tmp_path: Path, fake_deepseek: Any) -> None:
    before = raw_settings(opensearch_url)
    fake_deepseek.slow(4.0)  # the smoke probe waits at the provider while the other runner sweeps
    smoke = _background(runner(cli, tmp_path, "a"), "smoke", "deepseek-chat", "--json")
    _until_model_exists(clean_cluster)
    swept = runner(cli, tmp_path, "b", key=False)("sweep", "--yes", "--json")
    assert swept.code == 0 and swept.json()["deleted"] == [], swept
    assert "in progress" in " ".join(swept.json()["notes"]), swept
    out, err = smoke.communicate(timeout=120)
    assert smoke.returncode == 0, f"{out}\n{err}"
    result = json.loads(out)["runs"][0]
    assert result["teardown"]["missing"] == [] and len(result["teardown"]["deleted"]) == 3, \
        "the smoke found its resources already gone"
    assert ours(clean_cluster) == [] and raw_settings(opensearch_url) == before


def test_a_killed_run_is_swept_elsewhere_once_its_lease_ends(cli: Cli, clean_cluster: Any, opensearch_url: str,
                                                             tmp_path: Path, fake_deepseek: Any) -> None:
    before = raw_settings(opensearch_url)
    fake_deepseek.slow(30.0)
    run = _background(runner(cli, tmp_path, "a"), "smoke", "deepseek-chat", OPENSEARCH_LLM_LEASE="6s")
    _until_model_exists(clean_cluster)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=30)
    other = runner(cli, tmp_path, "b", key=False)
    early = other("sweep", "--yes", "--json")
    assert early.code == 0 and early.json()["deleted"] == [], early
    time.sleep(6.5)
    late = other("sweep", "--yes", "--json")
    assert late.code == 0 and late.json()["deleted"], late
    assert ours(clean_cluster) == [] and raw_settings(opensearch_url) == before, late


@pytest.mark.parametrize("command", ["plan", "down", "status"])
def test_a_failed_lookup_is_an_error_not_an_empty_cluster(command: str, proxied_cli: Cli, fault_proxy: Any,
                                                          clean_cluster: Any) -> None:
    assert proxied_cli("up", "deepseek-chat", "--no-smoke").code == 0
    try:
        fault_proxy.add(Rule(method="POST", path=r"/_plugins/_ml/connectors/_search", status=503,
                             body={"error": {"type": "unavailable", "reason": "injected"}}))
        args = {"plan": ("plan", "deepseek-chat", "--no-preflight"), "down": ("down", "deepseek-chat"),
                "status": ("status",)}[command]
        failed = proxied_cli(*args)
        assert failed.code != 0, failed
        assert "503" in failed.err or "injected" in failed.err, failed
        assert counts(clean_cluster) == {"model_group": 1, "connector": 1, "model": 1}, failed
    finally:
        fault_proxy.clear()
        assert proxied_cli("down", "deepseek-chat").code == 0
