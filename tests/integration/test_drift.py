"""Drift (issue 23): a hand edit of the live objects shows in `plan`, `status` and `plan --exit-code`, and `up`
repairs it in place (same model_id); an unchanged deployment never shows false drift."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.cli_helpers import Cli
from tests.integration.conftest import ours

ML = "/_plugins/_ml"
LIMITED = ("--set", "model.rate_limiter={limit: '10', unit: MINUTES}")


def _ids(client: Any) -> dict:
    return {r["kind"]: r["id"] for r in ours(client)}


def _edit_connector(client: Any, max_tokens: str) -> None:
    """What a person does by hand: ML Commons refuses Update Connector while a model uses it deployed."""
    ids = _ids(client)
    client.transport.perform_request("POST", f"{ML}/models/{ids['model']}/_undeploy")
    client.transport.perform_request("PUT", f"{ML}/connectors/{ids['connector']}",
                                     body={"parameters": {"max_tokens": max_tokens}})
    client.transport.perform_request("POST", f"{ML}/models/{ids['model']}/_deploy")
    for _ in range(50):
        if client.transport.perform_request("GET", f"{ML}/models/{ids['model']}").get("model_state") == "DEPLOYED":
            return
        time.sleep(0.1)
    raise AssertionError("the model did not deploy again after the hand edit")


def test_a_hand_edited_connector_shows_in_plan_and_up_repairs_it_in_place(cli: Cli, clean_cluster: Any,
                                                                          fake_deepseek: Any) -> None:
    assert cli("up", "deepseek-chat").code == 0
    try:
        model_id = _ids(clean_cluster)["model"]
        _edit_connector(clean_cluster, "16")
        fake_deepseek.clear_requests()
        assert cli("predict", "deepseek-chat", "--message", "hi").code == 0
        assert fake_deepseek.last_request("/chat/completions").json["max_tokens"] == 16, "the hand edit is live"
        planned = cli("plan", "deepseek-chat", "--json", "--no-preflight")
        assert planned.code == 0, planned
        drift = [line for a in planned.json()["actions"] for line in a["detail"].get("drift", [])]
        assert drift == ['connector.parameters.max_tokens: "16" → "4096" (changed outside opensearch-llm)'], drift
        flagged = cli("status", "deepseek-chat")
        assert flagged.code == 1 and "drift" in flagged.out and "max_tokens" in flagged.out, flagged
        repaired = cli("up", "deepseek-chat")
        assert repaired.code == 0 and "switched in place" in repaired.out, repaired
        assert _ids(clean_cluster)["model"] == model_id, "the repair kept the model_id"
        fake_deepseek.clear_requests()
        assert cli("predict", "deepseek-chat", "--message", "hi").code == 0
        assert fake_deepseek.last_request("/chat/completions").json["max_tokens"] == 4096
        after = cli("plan", "deepseek-chat", "--exit-code", "--no-preflight")
        assert after.code == 0, after
    finally:
        assert cli("down", "deepseek-chat").code == 0


def test_a_nightly_drift_check_sees_no_false_drift_and_every_hand_edit(cli: Cli, clean_cluster: Any) -> None:
    assert cli("up", "deepseek-rag", *LIMITED).code == 0
    try:
        for attempt in range(10):
            check = cli("plan", "deepseek-rag", *LIMITED, "--exit-code", "--no-preflight")
            assert check.code == 0, (attempt, check)
        ids = _ids(clean_cluster)
        edits = {
            "connector parameter": lambda: _edit_connector(clean_cluster, "17"),
            "model rate_limiter": lambda: clean_cluster.transport.perform_request(
                "PUT", f"{ML}/models/{ids['model']}", body={"rate_limiter": {"limit": "3", "unit": "MINUTES"}}),
            "pipeline prompt": lambda: _edit_pipeline(clean_cluster),
        }
        for what, edit in edits.items():
            edit()
            drifted = cli("plan", "deepseek-rag", *LIMITED, "--exit-code", "--no-preflight")
            assert drifted.code == 4 and "changed outside opensearch-llm" in drifted.out, (what, drifted)
            repaired = cli("up", "deepseek-rag", *LIMITED)
            assert repaired.code == 0, (what, repaired)
            again = cli("plan", "deepseek-rag", *LIMITED, "--exit-code", "--no-preflight")
            assert again.code == 0, (what, again)
            assert _ids(clean_cluster)["model"] == ids["model"], what
    finally:
        assert cli("down", "deepseek-rag").code == 0


def _edit_pipeline(client: Any) -> None:
    name = next(r["id"] for r in ours(client) if r["kind"] == "search_pipeline")
    body = client.transport.perform_request("GET", f"/_search/pipeline/{name}")[name]
    body["response_processors"][0]["retrieval_augmented_generation"]["system_prompt"] = "Answer in French."
    client.transport.perform_request("PUT", f"/_search/pipeline/{name}", body=body)
