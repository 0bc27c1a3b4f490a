"""The lifecycle through the real CLI against a real node and the offline fakes (issue 3 acceptance)."""

from __future__ import annotations

from typing import Any

import pytest

from opensearch_llm.testing.fake_deepseek import fake_reply
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours, persistent_settings

BLUEPRINTS = {
    "deepseek-chat": ("fake_deepseek", "/chat/completions"),
    "ollama-chat": ("fake_ollama", "/api/chat"),
    "ollama-generate": ("fake_ollama", "/api/generate"),
}


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_up_is_idempotent_predicts_and_down_restores(name: str, cli: Cli, clean_cluster: Any,
                                                     request: pytest.FixtureRequest) -> None:
    fake = request.getfixturevalue(BLUEPRINTS[name][0])
    path = str(CONNECTORS / f"{name}.yaml")
    before = persistent_settings(clean_cluster)

    first = cli("up", path, "--json")
    assert first.code == 0, first
    data = first.json()
    assert data["model_state"] == "DEPLOYED" and data["smoke"]["ok"] is True
    assert data["changed"] is True and set(data["ids"]) == {"model_group", "connector", "model"}
    assert "ok     smoke" in first.err

    second = cli("up", path, "--json")
    assert second.code == 0, second
    assert second.json()["ids"] == data["ids"] and second.json()["changed"] is False

    answer = cli("predict", path, "--message", "hi")
    assert answer.code == 0, answer
    assert answer.out.strip() == fake_reply([{"role": "user", "content": "hi"}])
    assert fake.last_request(BLUEPRINTS[name][1]) is not None

    gone = cli("down", path)
    assert gone.code == 0, gone
    assert ours(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before
    assert cli.scan_files(cli.cwd) > 0


def test_deepseek_key_reaches_the_provider_only(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    path = str(CONNECTORS / "deepseek-chat.yaml")
    assert cli("up", path).code == 0
    try:
        auth = fake_deepseek.last_request("/chat/completions").headers["authorization"]
        assert auth == f"Bearer {fake_deepseek.api_key}"
        status = cli("status", "--json")
        # (problem rows: a ghost deployment an earlier test left on a shared node is not this test's subject)
        assert {r["kind"] for r in status.json() if r["kind"] != "problem"} == {"model_group", "connector", "model"}
    finally:
        assert cli("down", path).code == 0


def test_plan_lists_creates_then_only_noops(cli: Cli, clean_cluster: Any) -> None:
    path = str(CONNECTORS / "deepseek-chat.yaml")
    empty = cli("plan", path, "--json")
    assert empty.code == 0, empty
    ops = {a["step"]: a["op"] for a in empty.json()["actions"]}
    assert ops == {"settings": "update", "model_group": "create", "connector": "create", "model": "create",
                   "smoke": "probe"}
    settings = empty.json()["actions"][0]["detail"]
    assert settings["private_ip_enabled"] == "false -> true"
    assert settings["add_trusted_endpoints_regex"] == [r"^http://127\.0\.0\.1:%d/.*$" % int(
        cli.env["DEEPSEEK_BASE_URL"].rsplit(":", 1)[1])]
    body = empty.json()["actions"][2]["detail"]["body"]
    assert body["credential"] == {"api_key": "***"}
    assert "***" in cli("plan", path).out
    assert cli("up", path).code == 0
    try:
        after = cli("plan", path, "--json").json()
        noops = {a["step"]: (a["op"], a["reason"]) for a in after["actions"] if a["step"] != "smoke"}
        assert all(op == "noop" and reason for op, reason in noops.values()), noops
        assert after["changes"] is False
    finally:
        assert cli("down", path).code == 0


def test_missing_key_exits_2_before_any_cluster_call(cli: Cli, tmp_path: Any) -> None:
    from opensearch_llm.testing.fake_ollama import FakeOllama

    with FakeOllama() as would_be_cluster:  # records every request it gets
        for command in (["up"], ["plan"], ["smoke"], ["predict", "--message", "x"]):
            result = cli(*command, str(CONNECTORS / "deepseek-chat.yaml"),
                         extra_env={"DEEPSEEK_API_KEY": "", "OPENSEARCH_URL": would_be_cluster.url})
            assert result.code == 2, result
            assert "DEEPSEEK_API_KEY" in result.err and ".env.example" in result.err
            assert "deepseek-chat.yaml:" in result.err
        assert would_be_cluster.requests == []


def test_smoke_expectation_unmet_fails_and_rolls_back(cli: Cli, clean_cluster: Any) -> None:
    path = str(CONNECTORS / "deepseek-chat.yaml")
    result = cli("up", path, "--set", "smoke.expect[0].regex=^never-this$")
    assert result.code == 1, result
    assert "smoke probe of deepseek-chat failed" in result.err and "never-this" in result.err
    assert "rolled back this run" in result.err


def test_reasoner_shows_reasoning(cli: Cli, clean_cluster: Any) -> None:
    path = str(CONNECTORS / "deepseek-reasoner.yaml")
    assert cli("up", path).code == 0
    try:
        result = cli("predict", path, "--message", "why is the sky blue")
        assert result.code == 0, result
        assert result.out.strip() == "Echo: why is the sky blue"
        assert "reasoning: " in result.err
    finally:
        assert cli("down", path).code == 0


def test_smoke_command_uses_run_scoped_names_and_cleans_up(cli: Cli, clean_cluster: Any) -> None:
    result = cli("smoke", str(CONNECTORS / "deepseek-chat.yaml"), str(CONNECTORS / "ollama-generate.yaml"), "--json")
    assert result.code == 0, result
    runs = result.json()["runs"]
    assert [r["ok"] for r in runs] == [True, True]
    assert all(r["teardown"]["clean"] for r in runs)
    assert len({r["run_id"] for r in runs}) == 2
