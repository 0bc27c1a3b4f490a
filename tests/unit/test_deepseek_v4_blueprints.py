"""The DeepSeek V4 blueprints, the bodies ML Commons fills from them, and reasoning_content in conversations."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Dict, List

import pytest
from click.testing import CliRunner

from opensearch_llm.blueprint import load_blueprint, validate_file
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.conversation import PredictResult, build_parameters, unused_warnings
from opensearch_llm.lifecycle.messages import assistant_message, to_ollama_messages, to_openai_messages
from opensearch_llm.testing._openai_params import validate_chat_request
from opensearch_llm.testing._openai_wire import WireError

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-unit-v4-000000000"}
SERVED = ["deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"]
IGNORED_IN_THINKING = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


def bp(name: str, **env: str) -> Any:
    return load_blueprint(ROOT / "connectors" / f"{name}.yaml", env={**ENV, **env}, env_file=False)


def ml_commons_body(blueprint: Any, parameters: Dict[str, Any]) -> Dict[str, Any]:
    """The request body ML Commons sends: every ``${parameters.x}`` replaced by the raw text of the value
    (connector parameters overlaid by the call's), lists and objects as JSON, then parsed."""
    values = {**blueprint.connector.parameters, **parameters}

    def text(match: "re.Match[str]") -> str:
        value = values[match.group(1)]
        return value if isinstance(value, str) else json.dumps(value)

    return json.loads(re.sub(r"\$\{parameters\.([^}]+)\}", text, blueprint.connector.predict_action["request_body"]))


# --- blueprints -------------------------------------------------------------------------------------------
def test_chat_is_v4_flash_without_thinking_and_keeps_generation_parameters() -> None:
    chat = bp("deepseek-chat")
    params = build_parameters(chat, "hi", params={"temperature": 0.2, "max_tokens": 50})
    body = ml_commons_body(chat, params)
    assert body["model"] == "deepseek-flash" and body["thinking"] == {"type": "disabled"}
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 1.0, 50)
    assert unused_warnings(chat, {"temperature": 0.2, "top_p": 0.9, "max_tokens": 5}) == []
    req = validate_chat_request(body, SERVED, deepseek=True)
    assert req.thinking is False and req.max_tokens == 50


def test_chat_model_is_picked_with_deepseek_model() -> None:
    for model in ("deepseek-v4-pro", "deepseek-v4-flash"):
        assert ml_commons_body(bp("deepseek-chat", DEEPSEEK_MODEL=model), build_parameters(
            bp("deepseek-chat", DEEPSEEK_MODEL=model), "hi"))["model"] == model


def test_reasoner_thinks_with_an_effort_and_sends_no_ignored_parameter() -> None:
    reasoner = bp("deepseek-reasoner")
    body = ml_commons_body(reasoner, build_parameters(reasoner, "why"))
    assert body["model"] == "deepseek-flash" and body["thinking"] == {"type": "enabled"}
    assert body["reasoning_effort"] == "high" and body["max_tokens"] == 32768
    assert not set(IGNORED_IN_THINKING) & set(body)
    assert validate_chat_request(body, SERVED, deepseek=True).effort == "high"
    assert reasoner.predict.reasoning.endswith("message.reasoning_content")
    assert reasoner.connector.body["client_config"]["read_timeout"] >= 600
    assert reasoner.smoke.timeout > reasoner.connector.body["client_config"]["read_timeout"]


def test_reasoner_effort_and_model_from_the_environment() -> None:
    pro = bp("deepseek-reasoner", DEEPSEEK_REASONER_MODEL="deepseek-v4-pro", DEEPSEEK_REASONING_EFFORT="max")
    body = ml_commons_body(pro, build_parameters(pro, "why", params={"reasoning_effort": "low"}))
    assert body["model"] == "deepseek-v4-pro" and body["reasoning_effort"] == "low"  # the call wins
    assert pro.connector.parameters["reasoning_effort"] == "max"


@pytest.mark.parametrize("effort", ["low", "high", "max"])
def test_documented_efforts_validate(effort: str) -> None:
    assert validate_file(ROOT / "connectors" / "deepseek-reasoner.yaml",
                         env={**ENV, "DEEPSEEK_REASONING_EFFORT": effort}) == []


@pytest.mark.parametrize("effort", ["medium", "extreme", "HIGH"])
def test_other_efforts_are_refused_with_file_and_line(effort: str) -> None:
    [problem] = validate_file(ROOT / "connectors" / "deepseek-reasoner.yaml",
                              env={**ENV, "DEEPSEEK_REASONING_EFFORT": effort})
    assert problem.path == "connector.parameters.reasoning_effort" and problem.line
    assert f"reasoning_effort {effort!r} is not one of low, high, max" in problem.message


def test_temperature_on_the_reasoner_is_warned_about() -> None:
    reasoner = bp("deepseek-reasoner")
    warnings = unused_warnings(reasoner, {"temperature": 0.2, "max_tokens": 100, "reasoning_effort": "max"})
    [warning] = warnings
    assert "'temperature' is not used by the request_body" in warning and "does not reach the provider" in warning


# --- reasoning_content in the history sent back -------------------------------------------------------------
CALL = {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
HISTORY: List[Dict[str, Any]] = [
    {"role": "user", "content": "hi"},
    {"role": "assistant", "content": "hello", "reasoning_content": "greet back"},
    {"role": "user", "content": "weather in Paris?"},
    {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "need the tool"},
    {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
    {"role": "assistant", "content": "Sunny.", "reasoning_content": "tool said sunny"},
]


def test_reasoning_kept_only_in_turns_with_tool_calls() -> None:
    out = to_openai_messages(HISTORY)
    assert "reasoning_content" not in out[1]
    assert out[3]["reasoning_content"] == "need the tool" and out[5]["reasoning_content"] == "tool said sunny"
    body = {"model": "deepseek-flash", "messages": out + [{"role": "user", "content": "thanks"}]}
    assert validate_chat_request(body, SERVED, deepseek=True).thinking is True  # what DeepSeek accepts


def test_history_without_reasoning_in_a_tool_turn_is_what_deepseek_refuses() -> None:
    history = [{k: v for k, v in m.items() if k != "reasoning_content"} for m in HISTORY]
    body = {"model": "deepseek-flash", "messages": to_openai_messages(history) + [{"role": "user", "content": "x"}]}
    with pytest.raises(WireError, match="must be passed back"):
        validate_chat_request(body, SERVED, deepseek=True)
    body["thinking"] = {"type": "disabled"}
    assert validate_chat_request(body, SERVED, deepseek=True)


def test_bad_reasoning_content_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match=r"history\[1\].reasoning_content must be a string"):
        to_openai_messages([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b",
                                                               "reasoning_content": ["x"]}])


def test_ollama_gets_reasoning_as_thinking() -> None:
    out = to_ollama_messages(to_openai_messages(HISTORY))
    assert out[3]["thinking"] == "need the tool" and "reasoning_content" not in out[3]


def test_an_answer_becomes_a_history_entry_with_its_reasoning() -> None:
    assert assistant_message("Sunny.", None, "tool said sunny") == HISTORY[5]
    assert assistant_message("", [CALL], "need the tool") == HISTORY[3]
    assert assistant_message("hi") == {"role": "assistant", "content": "hi"}  # no reasoning, no tool calls


def test_chat_command_keeps_reasoning_in_its_history(monkeypatch: pytest.MonkeyPatch) -> None:
    from opensearch_llm.cli import run_cmds
    from opensearch_llm.lifecycle import conversation

    reasoner = bp("deepseek-reasoner")
    seen: List[List[Dict[str, Any]]] = []
    answers = iter([("weather?", [CALL]), ("Sunny.", None)])

    def fake_predict(client: Any, blueprint: Any, message: str, **kw: Any) -> PredictResult:
        seen.append(build_parameters(blueprint, message, history=kw["history"])["messages"])
        text, calls = next(answers)
        return PredictResult(text=text if not calls else "", reasoning=f"thought {len(seen)}", seconds=0.0,
                             model_id="m-1", response={}, tool_calls=calls)

    monkeypatch.setattr(run_cmds, "load", lambda *a: [reasoner])
    monkeypatch.setattr(run_cmds, "make_client", lambda **kw: object())
    monkeypatch.setattr(conversation, "predict", fake_predict)
    monkeypatch.setattr(conversation, "provisioned_model_id", lambda client, blueprint: "m-1")
    result = CliRunner().invoke(run_cmds.chat, ["connectors/deepseek-reasoner.yaml"],
                                input="weather in Paris?\nthanks\n/exit\n")
    assert result.exit_code == 0, result.output
    assert "tool call call_0: get_weather({})" in result.output
    second = seen[1]
    assert second[1] == {"role": "assistant", "content": None, "tool_calls": [CALL], "reasoning_content": "thought 1"}
    assert second[-1] == {"role": "user", "content": "thanks"}
