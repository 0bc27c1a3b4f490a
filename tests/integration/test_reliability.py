"""Nothing left behind under faults, kills, signals and concurrency (issue 4)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, FIGURES, Cli
from tests.integration.conftest import ours, persistent_settings

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
GET_MODEL = r"/_plugins/_ml/models/(?!_search)[^/?]+$"


def _foreign(client: Any, base_url: str) -> dict:
    """Resources someone else made: no marker, one merely mentioning our name."""
    ml = client.plugins.ml
    tag = uuid.uuid4().hex[:6]
    group = ml.register_model_group(body={"name": f"foreign-{tag}", "description": "made by opensearch-llm fans"})
    conn = ml.create_connector(body={
        "name": f"foreign-{tag}", "description": "theirs", "version": "1", "protocol": "http",
        "parameters": {"endpoint": "api.deepseek.com"}, "credential": {"k": "v"},
        "actions": [{"action_type": "predict", "method": "POST", "url": "https://${parameters.endpoint}/x",
                     "request_body": "{}"}]})
    model = ml.register_model(body={"name": f"foreign-{tag}", "function_name": "remote", "description": "theirs",
                                    "model_group_id": group["model_group_id"], "connector_id": conn["connector_id"]})
    return {"model": model["model_id"], "connector": conn["connector_id"], "model_group": group["model_group_id"]}


def test_sweep_never_touches_foreign_resources(cli: Cli, clean_cluster: Any) -> None:
    foreign = _foreign(clean_cluster, "")
    try:
        assert cli("up", DEEPSEEK, "--no-smoke").code == 0
        assert cli("sweep", "--json").json()["found"] == [], "a finished up deployment is not a leftover"
        listed = cli("sweep", "--include-up", "--json")
        assert listed.code == 0, listed
        assert {r["kind"] for r in listed.json()["found"]} == {"model", "connector", "model_group"}
        assert not set(foreign.values()) & {r["id"] for r in listed.json()["found"]}
        assert len(ours(clean_cluster)) == 3, "listing must delete nothing"
        swept = cli("sweep", "--include-up", "--yes", "--json")
        assert swept.code == 0, swept
        assert len(swept.json()["deleted"]) == 3 and ours(clean_cluster) == []
        ml = clean_cluster.plugins.ml
        assert ml.get_model(model_id=foreign["model"])["name"].startswith("foreign-")
        assert ml.get_connector(connector_id=foreign["connector"])["name"].startswith("foreign-")
        assert ml.get_model_group(model_group_id=foreign["model_group"])["name"].startswith("foreign-")
    finally:
        ml = clean_cluster.plugins.ml
        ml.delete_model(model_id=foreign["model"])
        ml.delete_connector(connector_id=foreign["connector"])
        ml.delete_model_group(model_group_id=foreign["model_group"])


def test_sweep_filters(cli: Cli, clean_cluster: Any) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    assert cli("sweep", "--blueprint", "ollama-chat", "--json").json()["found"] == []
    assert cli("sweep", "--older-than", "1h", "--json").json()["found"] == []
    assert cli("sweep", "--run", "nope", "--json").json()["found"] == []
    bad = cli("sweep", "--older-than", "soon")
    assert bad.code == 2 and "bad age" in bad.err
    assert cli("down", DEEPSEEK).code == 0


def _start_up(cli: Cli, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))}
    env.update(cli.env)
    return subprocess.Popen([sys.executable, "-m", "opensearch_llm", "up", DEEPSEEK, *args], cwd=cli.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_model_created(journal_dir: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in journal_dir.glob("*.jsonl"):
            if any(json.loads(line).get("kind") == "model" for line in path.read_text().splitlines() if line):
                return
        time.sleep(0.05)
    raise AssertionError("up never registered the model")


def test_kill_9_mid_up_then_one_sweep_leaves_nothing(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    fault_proxy.add(Rule(method="GET", path=GET_MODEL, delay=30.0))  # hold the deploy poll
    proc = _start_up(proxied_cli)
    _wait_for_model_created(Path(proxied_cli.env["OPENSEARCH_LLM_JOURNAL_DIR"]))
    proc.kill()
    proc.wait(10)
    fault_proxy.clear()
    assert len(ours(clean_cluster)) == 3
    swept = proxied_cli("sweep", "--yes")
    assert swept.code == 0, swept
    assert ours(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_up_cleans_up_and_exits_130(sig: int, proxied_cli: Cli, fault_proxy: Any,
                                               clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    fault_proxy.add(Rule(method="GET", path=GET_MODEL, delay=3.0, count=1))
    proc = _start_up(proxied_cli)
    _wait_for_model_created(Path(proxied_cli.env["OPENSEARCH_LLM_JOURNAL_DIR"]))
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    proxied_cli.assert_no_secret(out + err)
    assert proc.returncode == 130, err
    assert "cleaning up this run" in err and "rolled back this run" in err
    assert ours(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before


def test_random_429_503_on_the_cluster_up_and_down_succeed(proxied_cli: Cli, fault_proxy: Any,
                                                             clean_cluster: Any) -> None:
    fault_proxy.add(Rule(status=429, rate=0.15, headers={"Retry-After": "0"}))
    fault_proxy.add(Rule(status=503, rate=0.15 / 0.85))  # 15 % of all requests, after the 429 rule
    up = proxied_cli("up", DEEPSEEK, "--json")
    assert up.code == 0, up
    mid = ours(clean_cluster)
    assert sorted(r["kind"] for r in mid) == ["connector", "model", "model_group"], "duplicate resources"
    down = proxied_cli("down", DEEPSEEK)
    assert down.code == 0, down
    assert fault_proxy.injected_count() > 0
    FIGURES["random_faults"] += fault_proxy.injected_count()
    fault_proxy.clear()
    assert ours(clean_cluster) == []


def test_four_concurrent_smoke_runs_of_one_blueprint(cli: Cli, clean_cluster: Any) -> None:
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _i: cli("smoke", DEEPSEEK, "--json", timeout=300), range(4)))
    for result in results:
        assert result.code == 0, result
        assert result.json()["runs"][0]["ok"] and result.json()["runs"][0]["teardown"]["clean"]
    assert len({r.json()["runs"][0]["run_id"] for r in results}) == 4
    assert ours(clean_cluster) == []


def test_second_interrupt_exits_at_once_and_names_the_sweep(proxied_cli: Cli, fault_proxy: Any,
                                                             clean_cluster: Any) -> None:
    polls = fault_proxy.add(Rule(method="GET", path=GET_MODEL, delay=30.0))  # the deploy poll hangs
    undeploys = fault_proxy.add(Rule(method="POST", path=r"/_undeploy", delay=30.0))  # and so does the rollback
    proc = _start_up(proxied_cli)
    _wait_for_model_created(Path(proxied_cli.env["OPENSEARCH_LLM_JOURNAL_DIR"]))
    deadline = time.monotonic() + 20
    while polls.applied < 1:  # up is waiting on its first deploy poll
        assert time.monotonic() < deadline, "up never polled the model"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    while undeploys.applied < 1:  # the rollback undeploys the model first, and hangs there
        assert time.monotonic() < deadline, "rollback never started"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    run_id = json.loads(next(Path(proxied_cli.env["OPENSEARCH_LLM_JOURNAL_DIR"]).glob("*.jsonl"))
                        .read_text().splitlines()[0])
    assert "cleanup abandoned" in err and "opensearch-llm sweep --run " in err
    fault_proxy.clear()
    run = err.split("sweep --run ", 1)[1].split()[0]
    assert run_id["event"] == "start"
    swept = proxied_cli("sweep", "--run", run, "--yes")
    assert swept.code == 0, swept
    assert ours(clean_cluster) == []


def test_restore_keeps_a_change_someone_else_made_meanwhile(cli: Cli, clean_cluster: Any) -> None:
    from opensearch_llm.resources.settings import TRUSTED

    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    current = clean_cluster.cluster.get_settings(flat_settings=True)["persistent"][TRUSTED]
    theirs = r"^https://llm\.example\.org/.*$"
    clean_cluster.cluster.put_settings(body={"persistent": {TRUSTED: [*current, theirs]}})
    try:
        down = cli("down", DEEPSEEK)
        assert down.code == 0, down
        after = clean_cluster.cluster.get_settings(flat_settings=True)["persistent"]
        assert theirs in after[TRUSTED], "someone else's entry was dropped"
        assert not any("127" in r for r in after[TRUSTED]), "our entry was not removed"
        assert after.get("plugins.ml_commons.connector.private_ip_enabled") == "true"
        assert "left on" in down.err
    finally:
        clean_cluster.cluster.put_settings(body={"persistent": {
            TRUSTED: None, "plugins.ml_commons.connector.private_ip_enabled": None}})
