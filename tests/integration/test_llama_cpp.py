"""The `openai-compatible` blueprint against a real OpenAI-compatible server (issue 26): llama.cpp's
(`llama-cpp-python[server]`) on loopback with a tiny GGUF model the suite writes itself; a logging proxy in front of
it shows what reached the server."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Iterator

import pytest

from opensearch_llm.testing.fault_proxy import FaultProxy
from tests.integration.cli_helpers import Cli
from tests.integration.conftest import ours, persistent_settings

BP = "openai-compatible"


@pytest.fixture
def logged(llama_server: Any) -> Iterator[FaultProxy]:
    """A recording proxy in front of the llama.cpp server (what OpenSearch sent it)."""
    with FaultProxy(llama_server.url.rsplit("/v1", 1)[0]) as proxy:
        yield proxy


@pytest.fixture
def llama_cli(cli: Cli, logged: FaultProxy, llama_server: Any) -> Cli:
    cli.env.update({"OPENAI_BASE_URL": f"{logged.url}/v1", "OPENAI_MODEL": llama_server.alias,
                    "OPENAI_ANSWER_LIMIT": "8", "OPENAI_API_KEY": ""})
    return cli


def _completions(proxy: FaultProxy) -> list[dict]:
    return [r.json() for r in proxy.requests if r.path.endswith("/chat/completions") and r.method == "POST"]


def test_preflight_against_the_real_server(llama_cli: Cli, llama_server_factory: Any, clean_cluster: Any) -> None:
    assert llama_cli("plan", BP).code == 0
    wrong = llama_cli("plan", BP, extra_env={"OPENAI_MODEL": "tiny-pongg"})
    assert wrong.code == 2 and "tiny-pong" in wrong.err, wrong
    locked = llama_server_factory(api_key="sk-llama-local-0042")
    env = {"OPENAI_BASE_URL": locked.url, "OPENAI_MODEL": locked.alias}
    missing = llama_cli("plan", BP, extra_env=env)
    assert missing.code == 2 and "refused the key" in missing.err, missing
    wrong_key = llama_cli("plan", BP, extra_env={**env, "OPENAI_API_KEY": "sk-not-the-key-0000"})
    assert wrong_key.code == 2 and "refused the key" in wrong_key.err, wrong_key
    assert llama_cli("plan", BP, extra_env={**env, "OPENAI_API_KEY": "sk-llama-local-0042"}).code == 0
    assert ours(clean_cluster) == []


def test_a_base_url_without_v1_exits_2_before_any_cluster_write(llama_cli: Cli, logged: FaultProxy,
                                                                  clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    result = llama_cli("up", BP, extra_env={"OPENAI_BASE_URL": logged.url})
    assert result.code == 2, result
    assert f"there is no OpenAI-compatible API at {logged.url}" in result.err
    assert f"OPENAI_BASE_URL={logged.url}/v1" in result.err, result
    assert ours(clean_cluster) == [] and persistent_settings(clean_cluster) == before


def test_smoke_passes_with_a_junit_case(llama_cli: Cli, clean_cluster: Any, tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    result = llama_cli("smoke", BP, "--junit", str(report), "--json")
    assert result.code == 0, result
    assert result.json()["runs"][0]["smoke"]["answer"].strip() == "pong", result
    cases = ET.parse(report).getroot().iter("testcase")
    assert [c.get("name") for c in cases] and all(c.find("failure") is None for c in ET.parse(report).iter("testcase"))
    assert ours(clean_cluster) == []


def test_up_predict_with_params_system_and_json_then_down(llama_cli: Cli, logged: FaultProxy,
                                                         clean_cluster: Any) -> None:
    assert llama_cli("up", BP).code == 0
    try:
        logged.clear_log()
        answer = llama_cli("predict", BP, "--message", "hi", "--system", "Be brief", "--param", "max_tokens=5",
                           "--param", "temperature=0.2")
        assert answer.code == 0 and answer.out.strip() == "pong", answer
        [sent] = _completions(logged)
        assert sent["max_tokens"] == 5 and sent["temperature"] == 0.2, sent
        assert sent["messages"][0] == {"role": "system", "content": "Be brief"}, sent
        as_json = llama_cli("predict", BP, "--message", "hi", "--json")
        assert as_json.code == 0 and as_json.json()["text"].strip() == "pong", as_json
    finally:
        assert llama_cli("down", BP).code == 0
    assert ours(clean_cluster) == []


def test_a_failed_smoke_rolls_back_and_says_what_it_removed(llama_cli: Cli, clean_cluster: Any) -> None:
    failed = llama_cli("smoke", BP, "--json", "--set", "smoke.expect[0].regex=(?i)^never$")
    assert failed.code == 1, failed
    teardown = failed.json()["runs"][0]["teardown"]
    assert {d["kind"] for d in teardown["deleted"]} == {"model", "connector", "model_group"}, teardown
    assert ours(clean_cluster) == []


def test_the_random_model_answers_in_the_openai_wire_format(llama_server_factory: Any, cli: Cli,
                                                           clean_cluster: Any) -> None:
    noisy = llama_server_factory(kind="random", alias="tiny-random")
    env = {"OPENAI_BASE_URL": noisy.url, "OPENAI_MODEL": "tiny-random", "OPENAI_ANSWER_LIMIT": "8",
           "OPENAI_API_KEY": ""}
    smoke = cli("smoke", BP, "--json", "--set", "smoke.expect[0].regex=.*", extra_env=env)
    assert smoke.code == 0, smoke
    assert ours(clean_cluster) == []
