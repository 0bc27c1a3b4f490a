"""The fake DeepSeek follows the V4 API as DeepSeek documents it: names, thinking, effort, ranges,
reasoning_content passback, include_usage, keep-alive comments and logprobs (raw HTTP via ``requests``)."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import pytest
import requests

from opensearch_llm.testing import FakeDeepSeek
from opensearch_llm.testing._openai_params import EFFORTS

KEY = "sk-v4-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def chat(ds: FakeDeepSeek, **body: Any) -> requests.Response:
    body.setdefault("model", "deepseek-flash")
    body.setdefault("messages", [{"role": "user", "content": "hello"}])
    return requests.post(ds.url + "/chat/completions", json=body, headers=AUTH, timeout=10, stream=body.get("stream"))


def message(r: requests.Response) -> Dict[str, Any]:
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]


def error(r: requests.Response, status: int) -> str:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["code"] == "invalid_request_error" and err["param"] is None
    return err["message"]


# --- models -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("model", ["deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"])
def test_v4_names_are_served_and_echoed(ds: FakeDeepSeek, model: str) -> None:
    r = chat(ds, model=model)
    assert r.status_code == 200 and r.json()["model"] == model


def test_legacy_name_is_served_but_not_listed(ds: FakeDeepSeek) -> None:
    assert ds.served == ["deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash"]
    listed = [m["id"] for m in requests.get(ds.url + "/models", headers=AUTH, timeout=5).json()["data"]]
    assert "deepseek-v4-flash" not in listed
    only_v4 = FakeDeepSeek(models=["deepseek-v4-flash", "deepseek-v4-pro"])  # an older snapshot of the API
    assert only_v4.served == ["deepseek-v4-flash", "deepseek-v4-pro"] and only_v4.legacy == {}


def test_three_served_names_are_listed_like_deepseek_does() -> None:
    with FakeDeepSeek(api_key=KEY, models=["a", "b", "c"]) as three:
        assert "are a, b, and c, but you passed z." in error(chat(three, model="z"), 400)


# --- thinking and effort ----------------------------------------------------------------------------------
def test_thinking_default_enabled_and_disabled(ds: FakeDeepSeek) -> None:
    on = chat(ds).json()
    assert on["choices"][0]["message"]["reasoning_content"] == "Thinking about: hello"
    assert on["usage"]["completion_tokens_details"] == {"reasoning_tokens": 3}
    assert on["usage"]["completion_tokens"] == 2 + 3
    assert message(chat(ds, thinking={"type": "enabled"}))["reasoning_content"] == "Thinking about: hello"
    off = message(chat(ds, thinking={"type": "disabled"}, reasoning_effort="max"))
    assert off == {"role": "assistant", "content": "Echo: hello"}
    assert ds.last_request("/chat/completions").json["thinking"] == {"type": "disabled"}


@pytest.mark.parametrize("thinking, fragment", [
    ({"type": "sometimes"}, "thinking.type: unknown variant `sometimes`, expected `enabled` or `disabled`"),
    ("on", "thinking: invalid type: string \"on\", expected struct Thinking"),
])
def test_bad_thinking_is_422(ds: FakeDeepSeek, thinking: Any, fragment: str) -> None:
    assert fragment in error(chat(ds, thinking=thinking), 422)


def test_effort_levels_and_mapping(ds: FakeDeepSeek) -> None:
    assert EFFORTS == {"minimal": "low", "low": "low", "medium": "high", "high": "high", "xhigh": "high",
                       "max": "max", "ultra": "max"}
    for effort in EFFORTS:
        assert message(chat(ds, reasoning_effort=effort))["reasoning_content"]
    msg = error(chat(ds, reasoning_effort="extreme"), 422)
    assert "reasoning_effort: unknown variant `extreme`, expected one of `minimal`, `low`" in msg


# --- ranges (400) and types (422) -------------------------------------------------------------------------
@pytest.mark.parametrize("field, value, fragment", [
    ("max_tokens", 0, "the valid range of max_tokens is [1, 393216]"),
    ("max_tokens", 393217, "the valid range of max_tokens is [1, 393216]"),
    ("temperature", 2.1, "Invalid temperature value, the valid range of temperature is [0, 2]"),
    ("temperature", -0.1, "the valid range of temperature is [0, 2]"),
    ("top_p", 0, "Invalid top_p value, the valid range of top_p is (0, 1.0]"),
    ("top_p", 1.5, "the valid range of top_p is (0, 1.0]"),
    ("presence_penalty", 2.5, "the valid range of presence_penalty is [-2, 2]"),
    ("frequency_penalty", -3, "the valid range of frequency_penalty is [-2, 2]"),
])
def test_out_of_range_is_400_in_both_modes(ds: FakeDeepSeek, field: str, value: Any, fragment: str) -> None:
    for thinking in ("enabled", "disabled"):
        assert fragment in error(chat(ds, thinking={"type": thinking}, **{field: value}), 400)


def test_edges_are_accepted_and_ignored_in_thinking_mode(ds: FakeDeepSeek) -> None:
    edges = {"max_tokens": 393216, "temperature": 2, "top_p": 1, "presence_penalty": -2, "frequency_penalty": 2}
    assert message(chat(ds, **edges))["content"] == "Echo: hello"
    assert message(chat(ds, temperature=0, thinking={"type": "disabled"}))["content"] == "Echo: hello"


@pytest.mark.parametrize("field, value, fragment", [
    ("temperature", "hot", "temperature: invalid type: string \"hot\", expected f32"),
    ("max_tokens", 1.5, "max_tokens: invalid type: float, expected u32"),
    ("stream", "yes", "stream: invalid type: string \"yes\", expected a boolean"),
    ("top_logprobs", -1, "top_logprobs: invalid value: integer `-1`, expected u8"),
])
def test_wrong_types_are_422(ds: FakeDeepSeek, field: str, value: Any, fragment: str) -> None:
    assert fragment in error(chat(ds, **{field: value}), 422)


def test_top_logprobs_needs_logprobs_and_stays_within_20(ds: FakeDeepSeek) -> None:
    assert "logprobs must be set to true if top_logprobs is used" in error(chat(ds, top_logprobs=2), 400)
    assert "the valid range of top_logprobs is [0, 20]" in error(chat(ds, logprobs=True, top_logprobs=21), 400)


def test_logprobs_in_thinking_mode(ds: FakeDeepSeek) -> None:
    choice = chat(ds, logprobs=True, top_logprobs=2).json()["choices"][0]
    content = choice["logprobs"]["content"]
    assert "".join(e["token"] for e in content) == "Echo: hello"
    assert [len(e["top_logprobs"]) for e in content] == [2, 2]
    assert content[0]["top_logprobs"][0]["token"] == content[0]["token"]
    assert "".join(e["token"] for e in choice["logprobs"]["reasoning_content"]) == "Thinking about: hello"


# --- reasoning_content in the messages sent back ------------------------------------------------------------
def tool_turn(with_reasoning: bool) -> List[Dict[str, Any]]:
    call = {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]}
    if with_reasoning:
        call["reasoning_content"] = "I need the weather tool."
    return [{"role": "user", "content": "weather in Paris?"}, call,
            {"role": "tool", "tool_call_id": "call_0", "content": "sunny"}]


def test_tool_call_turn_without_reasoning_is_refused_in_thinking_mode(ds: FakeDeepSeek) -> None:
    passback = "The `reasoning_content` in the thinking mode must be passed back to the API."
    assert error(chat(ds, messages=tool_turn(False), tools=TOOLS), 400) == passback
    assert message(chat(ds, messages=tool_turn(True), tools=TOOLS))["content"] == "Tool said: sunny"
    assert message(chat(ds, messages=tool_turn(False), tools=TOOLS, thinking={"type": "disabled"}))
    answered = tool_turn(True) + [{"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "thanks"}]
    assert error(chat(ds, messages=answered), 400) == passback  # still required in every later request
    answered[3]["reasoning_content"] = ""
    assert message(chat(ds, messages=answered))["content"] == "Echo: thanks"


def test_reasoning_without_tool_calls_is_optional_and_ignored(ds: FakeDeepSeek) -> None:
    history = [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b", "reasoning_content": "r"},
               {"role": "user", "content": "c"}]
    assert message(chat(ds, messages=history))["content"] == "Echo: c"
    del history[1]["reasoning_content"]
    assert message(chat(ds, messages=history))["content"] == "Echo: c"
    history[1]["reasoning_content"] = 7
    assert "reasoning_content: invalid type" in error(chat(ds, messages=history), 422)


# --- streaming ------------------------------------------------------------------------------------------
def raw_events(r: requests.Response) -> List[str]:
    return [e for e in r.content.decode("utf-8").split("\n\n") if e]


def test_include_usage_sends_a_separate_usage_chunk(ds: FakeDeepSeek) -> None:
    events = raw_events(chat(ds, stream=True, stream_options={"include_usage": True}, thinking={"type": "disabled"}))
    assert events[-1] == "data: [DONE]"
    chunks = [json.loads(e[len("data: "):]) for e in events[:-1]]
    *answer, usage = chunks
    assert usage["choices"] == [] and usage["usage"]["total_tokens"] == 1 + 2
    assert all(c["usage"] is None and len(c["choices"]) == 1 for c in answer)
    assert answer[-1]["choices"][0]["finish_reason"] == "stop"
    without = [json.loads(e[6:]) for e in raw_events(chat(ds, stream=True))[:-1] if e.startswith("data: ")]
    assert all(c["choices"] for c in without) and without[-1]["usage"]["total_tokens"] == 1 + 2 + 3


def test_keep_alive_comment_before_the_first_reasoning_chunk(ds: FakeDeepSeek) -> None:
    events = raw_events(chat(ds, stream=True))
    first_reasoning = next(i for i, e in enumerate(events) if "reasoning_content" in e)
    assert events[first_reasoning - 1] == ": keep-alive"
    assert events.count(": keep-alive") == 1
    assert ": keep-alive" not in raw_events(chat(ds, stream=True, thinking={"type": "disabled"}))
