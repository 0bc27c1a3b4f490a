"""Conversations for predict/chat: history translation, generation parameters, reading the answer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from opensearch_llm.blueprint import Expectation, load_blueprint, validate_file
from opensearch_llm.errors import InvalidInputError, UpstreamError
from opensearch_llm.lifecycle.conversation import build_parameters, read_answer, unused_warnings
from opensearch_llm.lifecycle.messages import (
    dialect, load_history, route_parameters, to_ollama_messages, to_openai_messages,
)
from opensearch_llm.secrets import register_secret
from opensearch_llm.testing._openai_params import validate_chat_request

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-unit-0000000000"}

#: A three-turn conversation with a tool call, in the loose shapes users write.
HISTORY = [
    {"role": "system", "content": "You answer about weather."},
    {"role": "user", "content": "What is the weather in Paris?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
    {"role": "tool_result", "tool_call_id": "call_0", "content": {"temp_c": 21, "sky": "clear"}},
    {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
]


def bp(name: str, *overrides: str) -> Any:
    return load_blueprint(ROOT / "connectors" / f"{name}.yaml", env=ENV, overrides=list(overrides))


def test_history_becomes_openai_messages() -> None:
    messages = to_openai_messages(HISTORY)
    assert messages == [
        {"role": "system", "content": "You answer about weather."},
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_0", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_0", "content": '{"temp_c": 21, "sky": "clear"}'},
        {"role": "assistant", "content": "It is 21 °C and clear in Paris."},
    ]
    # what DeepSeek accepts in non-thinking mode (the fake validates like the real API)
    validate_chat_request({"model": "deepseek-flash", "messages": messages + [{"role": "user", "content": "ok"}],
                           "thinking": {"type": "disabled"}}, ["deepseek-flash"], deepseek=True)


def test_tool_call_shapes_are_normalised() -> None:
    history = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [{"function": {"name": "a", "arguments": {"k": 1}}},   # Ollama shape
                                             {"id": "t9", "name": "b", "input": {"q": "y"}}]},     # flat shape
        {"role": "tool", "tool_call_id": "call_1_0", "content": "A"},
        {"role": "tool_result", "tool_use_id": "t9", "content": ["B"]},
    ]
    out = to_openai_messages(history)
    assert [c["id"] for c in out[1]["tool_calls"]] == ["call_1_0", "t9"]
    assert out[1]["tool_calls"][1]["function"] == {"name": "b", "arguments": '{"q": "y"}'}
    assert out[3] == {"role": "tool", "tool_call_id": "t9", "content": '["B"]'}


def test_a_single_pending_call_may_be_answered_without_an_id() -> None:
    out = to_openai_messages([{"role": "assistant", "tool_calls": [{"id": "c1", "name": "f", "arguments": "{}"}]},
                              {"role": "tool", "content": "done"}])
    assert out[1]["tool_call_id"] == "c1"


@pytest.mark.parametrize("history, message", [
    ([{"role": "robot", "content": "x"}], "history[0]: unknown role 'robot'"),
    (["hello"], "history[0] must be an object"),
    ([{"role": "tool", "tool_call_id": "nope", "content": "x"}], "answers no earlier assistant tool call"),
    ([{"role": "assistant", "tool_calls": [{"id": "a", "name": "f"}, {"id": "b", "name": "g"}]},
      {"role": "tool", "content": "x"}], "needs tool_call_id"),
    ([{"role": "assistant", "tool_calls": [{"id": "a"}]}], "has no function name"),
])
def test_bad_history_is_invalid_input(history: list, message: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        to_openai_messages(history)
    assert message in str(info.value) and info.value.exit_code == 2


def test_load_history_file(tmp_path: Path) -> None:
    (tmp_path / "list.json").write_text(json.dumps(HISTORY))
    (tmp_path / "obj.json").write_text(json.dumps({"messages": HISTORY}))
    (tmp_path / "bad.json").write_text("{not json")
    assert load_history(tmp_path / "list.json") == HISTORY == load_history(tmp_path / "obj.json")
    with pytest.raises(InvalidInputError, match="is not JSON"):
        load_history(tmp_path / "bad.json")
    with pytest.raises(InvalidInputError, match="cannot read history file"):
        load_history(tmp_path / "missing.json")


def test_ollama_messages_take_objects_and_tool_names() -> None:
    out = to_ollama_messages(to_openai_messages(HISTORY))
    assert out[2]["tool_calls"] == [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]
    assert out[2]["content"] == "" and out[3]["tool_name"] == "get_weather" and out[3]["role"] == "tool"


def test_deepseek_parameters_pass_generation_settings_through() -> None:
    deepseek = bp("deepseek-chat")
    assert dialect(deepseek) == "openai"
    params = build_parameters(deepseek, "now Rome?", "Be brief", HISTORY,
                              {"temperature": 0.2, "max_tokens": 50, "top_p": 0.9})
    assert params["temperature"] == 0.2 and params["max_tokens"] == 50 and params["top_p"] == 0.9
    messages = params["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief"} and messages[-1]["content"] == "now Rome?"
    assert len(messages) == 2 + len(HISTORY)
    assert unused_warnings(deepseek, {"temperature": 0.2}) == []


def test_every_generation_placeholder_has_a_connector_default() -> None:
    for name, keys in (("deepseek-chat", ("temperature", "top_p", "max_tokens")), ("deepseek-reasoner", ("max_tokens",))):
        body = bp(name).connector.predict_action["request_body"]
        params = bp(name).connector.parameters
        for key in keys:
            assert "${parameters.%s}" % key in body and float(params[key]) > 0


def test_ollama_parameters_go_into_options() -> None:
    chat = bp("ollama-chat", 'connector.parameters.options={"num_ctx": 4096}')
    assert dialect(chat) == "ollama"
    params = build_parameters(chat, "hi", params={"temperature": 0.2, "max_tokens": 7, "top_p": 0.5, "seed": 3})
    assert params["options"] == {"num_ctx": 4096, "temperature": 0.2, "num_predict": 7, "top_p": 0.5, "seed": 3}
    assert set(params) == {"options", "messages"}
    generate = bp("ollama-generate")
    assert build_parameters(generate, "hi", "sys", params={"temperature": 0})["options"] == {"temperature": 0}
    assert build_parameters(generate, "hi", "sys")["prompt"] == "sys\n\nhi"


def test_unused_parameters_are_sent_but_warned_about() -> None:
    deepseek = bp("deepseek-chat")
    routed, unused = route_parameters(deepseek, {"temperature": 1, "frobnicate": True})
    assert routed == {"temperature": 1, "frobnicate": True} and unused == ["frobnicate"]
    [warning] = unused_warnings(deepseek, {"frobnicate": True})
    assert "'frobnicate' is not used by the request_body" in warning


def test_history_needs_a_chat_blueprint() -> None:
    with pytest.raises(InvalidInputError, match="a history needs a chat blueprint; ollama-generate sends a prompt"):
        build_parameters(bp("ollama-generate"), "hi", history=HISTORY)


def test_embed_blueprint_sends_input_texts() -> None:
    embed = bp("ollama-embed")
    assert build_parameters(embed, "hello") == {"input": ["hello"]}


def chat_response(message: dict) -> dict:
    return {"inference_results": [{"output": [{"name": "response", "dataAsMap": {"choices": [
        {"index": 0, "message": message, "finish_reason": "stop"}]}}], "status_code": 200}]}


def test_read_answer_text_and_tool_calls() -> None:
    deepseek = bp("deepseek-chat")
    assert read_answer(deepseek, chat_response({"role": "assistant", "content": "hi"})) == ("hi", None)
    call = {"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assert read_answer(deepseek, chat_response({"role": "assistant", "content": None, "tool_calls": [call]})) == (
        "", [call])
    embed = bp("ollama-embed")
    vector = {"inference_results": [{"output": [{"name": "sentence_embedding", "data": [0.5, 0.25]}]}]}
    assert read_answer(embed, vector) == ("[0.5, 0.25]", None)


def test_wrong_shape_names_the_path_and_shows_a_masked_excerpt() -> None:
    register_secret("sk-leaky-secret-value")
    wrong = {"inference_results": [{"output": [{"name": "response", "dataAsMap": {
        "response": "I am not OpenAI-shaped", "echo": "sk-leaky-secret-value"}}]}]}
    with pytest.raises(UpstreamError) as info:
        read_answer(bp("deepseek-chat"), wrong)
    text = str(info.value)
    assert "expected the answer at inference_results[0].output[0].dataAsMap.choices[0].message.content" in text
    assert "'choices' not found" in text and "I am not OpenAI-shaped" in text
    assert "sk-leaky-secret-value" not in text and "***" in text
    with pytest.raises(UpstreamError, match="but it is null"):
        read_answer(bp("deepseek-chat"), chat_response({"role": "assistant", "content": None}))


def test_length_expectation() -> None:
    check = Expectation(path="data", length=3)
    assert check.check({"data": [1, 2, 3]}) is None
    assert check.check({"data": [1, 2]}) == "data: expected 3 items, got 2"
    assert "got a int" in check.check({"data": 7})
    embed = bp("ollama-embed", "smoke.expect[0].length=8")
    vector = {"inference_results": [{"output": [{"name": "sentence_embedding", "data": [0.1] * 8, "shape": [8]}]}]}
    assert embed.smoke.check(vector) == []
    assert bp("ollama-embed").smoke.check(vector) == ["inference_results[0].output[0].data: expected 768 items, got 8"]


def test_length_is_validated(tmp_path: Path) -> None:
    path = ROOT / "connectors" / "ollama-embed.yaml"
    [problem] = validate_file(path, env={}, overrides=["smoke.expect[0].length=many"])
    assert problem.path == "smoke.expect[0].length" and "expected integer" in problem.message
    [problem] = validate_file(path, env={}, overrides=["smoke.expect[0].not_empty=true"])
    assert "exactly one of equals, contains, regex, not_empty, length (got not_empty, length)" in problem.message
