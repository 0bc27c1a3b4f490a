"""Issue 14: a live model changes without downtime — key rotation and in-place changes keep its model_id, under
a client predicting every 50 ms; only what ML Commons cannot change in place is replaced, and only when asked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, FIGURES, Cli
from tests.integration.conftest import ours, persistent_settings
from tests.integration.test_hardening import _Traffic, _popen

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
NEW_KEY = "sk-rotated-key-0000000000007777"


def _ids(client: Any) -> dict:
    return {r["kind"]: r["id"] for r in ours(client)}


def _failed(traffic: _Traffic) -> int:
    return sum(n for code, n in traffic.codes.items() if code != 200)


def test_rotate_keeps_the_model_id_and_drops_the_old_connector(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                               opensearch_url: str) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    before = _ids(clean_cluster)
    fake_deepseek.extra_keys.add(NEW_KEY)
    cli.secrets.append(NEW_KEY)
    with _Traffic(opensearch_url, before["model"]) as traffic:
        rotated = cli("rotate", DEEPSEEK, "--json", extra_env={"DEEPSEEK_API_KEY": NEW_KEY})
        fake_deepseek.clear_requests()
        for _ in range(20):  # calls after the switch
            if any(r.headers.get("authorization") == f"Bearer {NEW_KEY}" for r in fake_deepseek.requests):
                break
            traffic.stop.wait(0.1)
    assert rotated.code == 0, rotated
    after = _ids(clean_cluster)
    assert after["model"] == before["model"] and after["connector"] != before["connector"]
    assert rotated.json()["switch"]["old"] == before["connector"]
    assert clean_cluster.plugins.ml.get_model(model_id=after["model"])["connector_id"] == after["connector"]
    keys = {r.headers.get("authorization") for r in fake_deepseek.requests if r.path.endswith("/chat/completions")}
    assert keys == {f"Bearer {NEW_KEY}"}, "calls after the switch use the new key only"
    assert _failed(traffic) == 0 and traffic.codes.get(200, 0) > 0, traffic.codes
    FIGURES.setdefault("live_changes", []).append(("rotate", dict(traffic.codes)))
    assert cli("down", DEEPSEEK).code == 0


def test_rotate_with_a_refused_key_switches_back(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                 opensearch_url: str) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    before = _ids(clean_cluster)
    refused_key = "sk-refused-key-000000005555"
    cli.secrets.append(refused_key)
    assert cli("rotate", DEEPSEEK, extra_env={"DEEPSEEK_API_KEY": refused_key}).code == 2, "the preflight refuses it"
    with _Traffic(opensearch_url, before["model"]) as traffic:
        refused = cli("rotate", DEEPSEEK, "--no-preflight", extra_env={"DEEPSEEK_API_KEY": refused_key})
    assert refused.code == 1, refused
    assert "authentication failed at the LLM provider" in refused.err and "kept answering" in refused.err
    assert _ids(clean_cluster) == before, "no extra connector, same model and connector"
    assert cli("predict", DEEPSEEK, "--message", "still the old key?").code == 0
    assert _failed(traffic) == 0, traffic.codes
    FIGURES.setdefault("live_changes", []).append(("rotate refused", dict(traffic.codes)))
    assert cli("down", DEEPSEEK).code == 0


def test_a_changed_connector_parameter_switches_in_place(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                         opensearch_url: str) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    before = _ids(clean_cluster)
    change = ("--set", "connector.parameters.max_tokens=64")
    plan = cli("plan", DEEPSEEK, *change, "--json")
    ops = {a["step"]: a["op"] for a in plan.json()["actions"]}
    assert ops["connector"] == "switch" and ops["model"] == "noop", ops
    with _Traffic(opensearch_url, before["model"]) as traffic:
        changed = cli("up", DEEPSEEK, *change)
    assert changed.code == 0, changed
    assert "switched in place" in changed.out
    assert _ids(clean_cluster)["model"] == before["model"]
    fake_deepseek.clear_requests()
    assert cli("predict", DEEPSEEK, "--message", "hi").code == 0
    sent = fake_deepseek.last_request("/chat/completions").json
    assert sent["max_tokens"] == 64
    assert _failed(traffic) == 0, traffic.codes
    FIGURES.setdefault("live_changes", []).append(("up switch", dict(traffic.codes)))
    assert cli("down", DEEPSEEK).code == 0


def test_a_change_that_needs_a_replace_is_named_and_refused_without_replace(cli: Cli, clean_cluster: Any) -> None:
    before_settings = persistent_settings(clean_cluster)
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    before = _ids(clean_cluster)
    pipeline = {"processors": [{"ml_inference": {"model_id": before["model"], "input_map": [{"messages": "text"}],
                                                 "output_map": [{"answer": "response"}]}}]}
    clean_cluster.transport.perform_request("PUT", "/_ingest/pipeline/uses-the-model", body=pipeline)
    try:
        moved = ("--set", "model_group.name=deepseek-chat-moved")
        plan = cli("plan", DEEPSEEK, *moved)
        assert plan.code == 0 and "replace" in plan.out and "ingest pipeline uses-the-model" in plan.out, plan
        refused = cli("up", DEEPSEEK, *moved)
        assert refused.code == 2 and "--replace" in refused.err and "uses-the-model" in refused.err, refused
        assert _ids(clean_cluster) == before, "a refused replace changed something"
    finally:
        clean_cluster.transport.perform_request("DELETE", "/_ingest/pipeline/uses-the-model")
    assert cli("down", DEEPSEEK).code == 0
    assert persistent_settings(clean_cluster) == before_settings


def test_kill_9_of_rotate_before_the_switch_then_one_sweep(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any,
                                                          fake_deepseek: Any) -> None:
    assert proxied_cli("up", DEEPSEEK, "--no-smoke").code == 0
    before = _ids(clean_cluster)
    fake_deepseek.extra_keys.add(NEW_KEY)
    proxied_cli.secrets.append(NEW_KEY)
    fault_proxy.add(Rule(method="PUT", path=r"/_plugins/_ml/models/", delay=30.0))  # hold the switch
    proxied_cli.env["DEEPSEEK_API_KEY"] = NEW_KEY
    proc = _popen(proxied_cli, "rotate", DEEPSEEK)
    journals = Path(proxied_cli.env["OPENSEARCH_LLM_JOURNAL_DIR"])
    for _ in range(600):
        if any('"mode": "rotate"' in p.read_text() and '"kind": "connector"' in p.read_text()
               for p in journals.glob("*.jsonl")):
            break
        proc.wait(0.05) if proc.poll() is not None else __import__("time").sleep(0.05)
    proc.kill()
    proc.wait(10)
    fault_proxy.clear()
    assert len([r for r in ours(clean_cluster) if r["kind"] == "connector"]) == 2
    swept = proxied_cli("sweep", "--yes", "--json")
    assert swept.code == 0, swept
    assert _ids(clean_cluster) == before, "no extra connector left; the model is untouched"
    assert proxied_cli("predict", DEEPSEEK, "--message", "hi").code == 0
    assert proxied_cli("down", DEEPSEEK).code == 0
    assert not [json.loads(line) for p in journals.glob("*.jsonl") for line in p.read_text().splitlines()
                if NEW_KEY in line], "the key reached a journal"
