"""Ollama tooling and chat parity, through the real CLI against a real node and the offline fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from opensearch_llm.testing._ollama_wire import NOT_IN_REGISTRY
from opensearch_llm.testing.fake_ollama import FakeOllama
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
OLLAMA_CHAT = str(CONNECTORS / "ollama-chat.yaml")
OLLAMA_EMBED = str(CONNECTORS / "ollama-embed.yaml")
WRONG_KEY = "sk-wrong-key-000000009876"


@pytest.fixture
def empty_ollama(cli: Cli) -> Iterator[FakeOllama]:
    """A fake Ollama with no models (everything pullable); the CLI's OLLAMA_BASE_URL points at it."""
    with FakeOllama(models=()) as server:
        cli.env["OLLAMA_BASE_URL"] = server.url
        yield server


def test_ollama_pull_shows_progress_and_a_summary(cli: Cli, fake_ollama: Any) -> None:
    result = cli("ollama", "pull", "qwen3:4b")
    assert result.code == 0, result
    assert result.out.startswith(f"pulled qwen3:4b from {fake_ollama.url}: 2 layer(s), 2.5 GB")
    lines = result.err.splitlines()
    assert lines[0] == "pulling manifest" and lines[-1] == "success"
    assert any(line.endswith("100%  2.5 GB/2.5 GB") for line in lines)
    listed = cli("ollama", "list", "--json").json()
    assert "qwen3:4b" in [m["name"] for m in listed["models"]]


def test_ollama_pull_of_an_unknown_model_quotes_the_server(cli: Cli) -> None:
    result = cli("ollama", "pull", "no-such-model:13b")
    assert result.code == 1, result
    [error] = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert "cannot pull no-such-model:13b" in error and NOT_IN_REGISTRY in error


def test_up_pulls_a_missing_model_then_provisions(cli: Cli, clean_cluster: Any, empty_ollama: FakeOllama) -> None:
    assert not empty_ollama.has_model("llama3.2:1b")
    result = cli("up", OLLAMA_CHAT, "--set", "ollama.pull=true")
    try:
        assert result.code == 0, result
        assert empty_ollama.has_model("llama3.2:1b")
        err = result.err.splitlines()
        assert "  pulling manifest" in err and "  success" in err
        pulled = next(i for i, line in enumerate(err) if "ollama" in line and "pulled llama3.2:1b" in line)
        planned = next(i for i, line in enumerate(err) if "model_group" in line or "settings" in line)
        assert pulled < planned  # the pull happened before anything was created
        assert "smoke ok" in result.out
        again = cli("up", OLLAMA_CHAT, "--set", "ollama.pull=true")
        assert again.code == 0 and "already on" in again.err and "pulling manifest" not in again.err
        assert len([r for r in empty_ollama.requests if r.path == "/api/pull"]) == 1
    finally:
        assert cli("down", OLLAMA_CHAT).code == 0


def test_up_with_an_unpullable_model_changes_nothing(cli: Cli, clean_cluster: Any, empty_ollama: FakeOllama) -> None:
    result = cli("up", OLLAMA_CHAT, "--set", "ollama.pull=true", "--set", "ollama.model=ghost:1b")
    assert result.code == 1 and NOT_IN_REGISTRY in result.err
    assert ours(clean_cluster) == []


def test_ollama_embed_is_a_text_embedding_model(cli: Cli, clean_cluster: Any, fake_ollama: Any) -> None:
    wrong_dim = cli("up", OLLAMA_EMBED)  # the blueprint expects nomic-embed-text's 768; the fake answers 8
    assert wrong_dim.code == 1 and "check that ingest.dimension is the model's vector dimension" in wrong_dim.err
    assert ours(clean_cluster) == []
    wrong_probe = cli("up", OLLAMA_EMBED, "--set", "ingest.dimension=8")  # the k-NN field fits; the probe does not
    assert wrong_probe.code == 1 and "expected 768 items, got 8" in wrong_probe.err
    assert ours(clean_cluster) == []

    result = cli("up", OLLAMA_EMBED, "--set", "smoke.expect[0].length=8", "--set", "ingest.dimension=8", "--json")
    assert result.code == 0, result
    try:
        data = result.json()
        assert data["smoke"]["ok"] is True
        model_id = data["ids"]["model"]
        sent = [r.json for r in fake_ollama.requests if r.path.endswith("/api/embed")]
        assert {"model": "nomic-embed-text", "input": ["hello world"]} in sent  # the probe (then the ingest smoke)
        # the neural-search path: text_docs through the built-in pre-process, vectors out of the post-process
        answer = clean_cluster.transport.perform_request(
            "POST", f"/_plugins/_ml/_predict/text_embedding/{model_id}",
            body={"text_docs": ["first doc", "second doc"], "return_number": True,
                  "target_response": ["sentence_embedding"]})
        tensors = answer["inference_results"][0]["output"]
        assert [t["name"] for t in tensors] == ["sentence_embedding"] * 2
        assert [t["shape"] for t in tensors] == [[8], [8]] and len(tensors[0]["data"]) == 8
        assert fake_ollama.last_request("/api/embed").json["input"] == ["first doc", "second doc"]
        vector = cli("predict", OLLAMA_EMBED, "--message", "hello world")
        assert vector.code == 0 and len(json.loads(vector.out)) == 8
    finally:
        assert cli("down", OLLAMA_EMBED, "--set", "ingest.dimension=8").code == 0


def test_wrong_deepseek_key_fails_up_and_predict_with_the_provider_message(cli: Cli, clean_cluster: Any) -> None:
    cli.secrets.append(WRONG_KEY)
    wrong = {"DEEPSEEK_API_KEY": WRONG_KEY}
    up = cli("up", DEEPSEEK, "--no-preflight", extra_env=wrong)  # past step 0, to the connector
    assert up.code == 1 and "authentication failed at the LLM provider (401)" in up.err
    assert "Authentication Fails, Your api key: ****9876 is invalid" in up.err
    assert ours(clean_cluster) == []

    assert cli("up", DEEPSEEK, "--no-smoke", "--no-preflight", extra_env=wrong).code == 0
    try:
        result = cli("predict", DEEPSEEK, "--message", "hi", extra_env=wrong)
        assert result.code == 1 and result.out == ""
        [error] = [line for line in result.err.splitlines() if line.startswith("error:")]
        assert "authentication failed at the LLM provider (401)" in error
        assert "Your api key: ****9876 is invalid" in error
    finally:
        assert cli("down", DEEPSEEK, extra_env=wrong).code == 0


HISTORY = [
    {"role": "system", "content": "You report the weather."},
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool_result", "tool_call_id": "call_0", "content": {"temp_c": 21, "sky": "clear"}},
    {"role": "assistant", "content": "21 °C and clear."},
]


def test_three_turn_conversation_with_a_tool_call_round_trips(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                              tmp_path: Path) -> None:
    history = tmp_path / "turns.json"
    history.write_text(json.dumps(HISTORY), encoding="utf-8")
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    try:
        result = cli("predict", DEEPSEEK, "--history", str(history), "--message", "And tomorrow?")
        assert result.code == 0, result
        assert result.out.strip() == "Echo: And tomorrow?"
        messages = fake_deepseek.last_request("/chat/completions").json["messages"]
        assistant = messages[2]
        assert messages[:2] == [{"role": "system", "content": "You report the weather."},
                                {"role": "user", "content": "What is the weather in Paris?"}]
        assert assistant["role"] == "assistant" and assistant.get("content") is None
        assert assistant["tool_calls"] == [{"id": "call_0", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Paris"}'}}]
        assert messages[3] == {"role": "tool", "tool_call_id": "call_0", "content": '{"temp_c": 21, "sky": "clear"}'}
        assert messages[4:] == [{"role": "assistant", "content": "21 °C and clear."},
                                {"role": "user", "content": "And tomorrow?"}]

        chat = cli("chat", DEEPSEEK, "--history", str(history), "--system", "Be terse",
                   input="first question\nsecond question\n/exit\n")
        assert chat.code == 0, chat
        assert "deepseek-chat> Echo: first question" in chat.out and "deepseek-chat> Echo: second question" in chat.out
        sent = fake_deepseek.last_request("/chat/completions").json["messages"]
        assert sent[0] == {"role": "system", "content": "Be terse"} and len(sent) == 1 + len(HISTORY) + 3
        assert [m["content"] for m in sent[-3:]] == ["first question", "Echo: first question", "second question"]
    finally:
        assert cli("down", DEEPSEEK).code == 0


def test_generation_parameters_reach_the_providers(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                   fake_ollama: Any) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    try:
        plain = cli("predict", DEEPSEEK, "--message", "one two three four")
        assert plain.code == 0, plain
        body = fake_deepseek.last_request("/chat/completions").json
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (1.0, 1.0, 4096)  # connector defaults
        tuned = cli("predict", DEEPSEEK, "--message", "one two three four", "--param", "temperature=0.2",
                    "--param", "max_tokens=3", "--param", "top_p=0.5", "--param", "colour=blue")
        assert tuned.code == 0, tuned
        body = fake_deepseek.last_request("/chat/completions").json
        assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.5, 3)
        assert tuned.out.strip() == "Echo: one two"  # the fake cuts the reply to max_tokens words
        assert "warning: parameter 'colour' is not used by the request_body" in tuned.err
    finally:
        assert cli("down", DEEPSEEK).code == 0
    assert cli("up", OLLAMA_CHAT, "--no-smoke").code == 0
    try:
        result = cli("predict", OLLAMA_CHAT, "--message", "one two three", "--param", "temperature=0.2",
                     "--param", "max_tokens=2")
        assert result.code == 0, result
        assert fake_ollama.last_request("/api/chat").json["options"] == {"temperature": 0.2, "num_predict": 2}
        assert result.out.strip() == "Echo: one"
    finally:
        assert cli("down", OLLAMA_CHAT).code == 0


def test_predict_stream_falls_back_with_one_line(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    version = clean_cluster.info()["version"]["number"]
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    try:
        result = cli("predict", DEEPSEEK, "--message", "stream me", "--stream")
        assert result.code == 0, result
        assert result.out == "Echo: stream me\n"
        notes = [line for line in result.err.splitlines() if "stream" in line]
        assert len(notes) == 1, result
        assert notes[0].startswith(f"streaming is not available on this cluster (OpenSearch {version}")
        assert notes[0].endswith("): showing the full answer")
        assert fake_deepseek.last_request("/chat/completions").json.get("stream") in (None, False)
    finally:
        assert cli("down", DEEPSEEK).code == 0
