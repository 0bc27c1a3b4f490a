"""DeepSeek V4 through the real CLI and a real node, against the fake serving only today's model names
(issue 11 acceptance): deepseek-chat without thinking, deepseek-reasoner with thinking, another model by env."""

from __future__ import annotations

from typing import Any

from opensearch_llm.testing.fake_deepseek import RETIRED_MODELS
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours

CHAT = str(CONNECTORS / "deepseek-chat.yaml")
REASONER = str(CONNECTORS / "deepseek-reasoner.yaml")


def chat_requests(fake: Any) -> list:
    return [r.json for r in fake.requests if r.path.endswith("/chat/completions")]


def test_chat_blueprint_uses_v4_flash_without_thinking(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    assert not set(RETIRED_MODELS) & set(fake_deepseek.served)
    up = cli("up", CHAT)
    assert up.code == 0, up
    try:
        answer = cli("predict", CHAT, "--message", "hi")
        assert answer.code == 0, answer
        assert answer.out.strip() == "Echo: hi" and "reasoning:" not in answer.err
        sent = chat_requests(fake_deepseek)
        assert sent and all(b["model"] == "deepseek-flash" and b["thinking"] == {"type": "disabled"} for b in sent)
        assert sent[-1]["messages"] == [{"role": "user", "content": "hi"}]

        tuned = cli("predict", CHAT, "--message", "again", "--param", "temperature=0.2")
        assert tuned.code == 0, tuned
        assert "warning" not in tuned.err
        assert chat_requests(fake_deepseek)[-1]["temperature"] == 0.2
    finally:
        down = cli("down", CHAT)
    assert down.code == 0, down
    assert ours(clean_cluster) == []


def test_reasoner_smoke_thinks(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    result = cli("smoke", REASONER, "--json")
    assert result.code == 0, result
    [run] = result.json()["runs"]
    assert run["ok"] and run["smoke"]["ok"] and run["teardown"]["clean"]
    [probe] = chat_requests(fake_deepseek)
    assert probe["model"] == "deepseek-flash" and probe["thinking"] == {"type": "enabled"}
    assert probe["reasoning_effort"] == "high" and "temperature" not in probe


def test_reasoner_predict_shows_reasoning_and_warns_about_temperature(cli: Cli, clean_cluster: Any,
                                                                      fake_deepseek: Any) -> None:
    assert cli("up", REASONER, extra_env={"DEEPSEEK_REASONING_EFFORT": "max"}).code == 0
    try:
        result = cli("predict", REASONER, "--message", "why", "--param", "temperature=0.2",
                     extra_env={"DEEPSEEK_REASONING_EFFORT": "max"})
        assert result.code == 0, result
        assert result.out.strip() == "Echo: why"
        assert "reasoning: Thinking about: why" in result.err
        assert "warning: parameter 'temperature' is not used by the request_body" in result.err
        last = chat_requests(fake_deepseek)[-1]
        assert last["reasoning_effort"] == "max" and "temperature" not in last
    finally:
        assert cli("down", REASONER).code == 0


def test_bad_effort_exits_2_before_the_cluster(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    result = cli("up", REASONER, extra_env={"DEEPSEEK_REASONING_EFFORT": "medium"})
    assert result.code == 2, result
    assert "connector.parameters.reasoning_effort" in result.err and "not one of low, high, max" in result.err
    assert chat_requests(fake_deepseek) == [] and ours(clean_cluster) == []


def test_deepseek_model_picks_v4_pro(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    result = cli("smoke", CHAT, "--json", extra_env={"DEEPSEEK_MODEL": "deepseek-v4-pro"})
    assert result.code == 0, result
    assert result.json()["runs"][0]["ok"]
    assert {b["model"] for b in chat_requests(fake_deepseek)} == {"deepseek-v4-pro"}
