"""The catalog on a real node: shipped names work where paths did, and `openai-compatible` passes `smoke`."""

from __future__ import annotations

from typing import Any

from tests.integration.cli_helpers import Cli


def _openai_env(fake: Any, *, key: bool = True) -> dict:
    env = {"OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_MODEL": fake.models[0]}
    if key:
        env["OPENAI_API_KEY"] = fake.api_key
    return env


def test_openai_compatible_passes_smoke(cli: Cli, fake_deepseek: Any, clean_cluster: Any) -> None:
    result = cli("smoke", "openai-compatible", "--json", extra_env=_openai_env(fake_deepseek))
    assert result.code == 0, result
    [run] = result.json()["runs"]
    assert run["ok"] and run["blueprint"] == "openai-compatible"
    assert "pong" in str(run).lower()


def test_openai_compatible_without_a_key_sends_the_dummy_credential(cli: Cli, clean_cluster: Any) -> None:
    """Local servers (vLLM, llama.cpp, LM Studio) need no key: the default credential still satisfies ML Commons."""
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    with FakeDeepSeek(api_key="no-key-needed", models=("local/model-1b",)) as server:
        result = cli("smoke", "openai-compatible", extra_env=_openai_env(server, key=False))
    assert result.code == 0, result
    assert result.out.startswith("PASS  openai-compatible")


def test_a_shipped_name_works_for_up_predict_and_down(cli: Cli, clean_cluster: Any) -> None:
    up = cli("up", "deepseek-chat")
    assert up.code == 0, up
    predict = cli("predict", "deepseek-chat", "--message", "Say pong")
    assert predict.code == 0, predict
    assert "pong" in predict.out.lower()
    down = cli("down", "deepseek-chat")
    assert down.code == 0, down
