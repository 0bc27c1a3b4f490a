"""Unit tests for the offline DeepSeek stand-in (real HTTP over 127.0.0.1, via ``requests``).

V4 specifics (thinking, effort, ranges, reasoning_content passback, include_usage) are in
``test_fake_deepseek_v4.py``; the official SDKs drive both fakes in ``test_fakes_sdk.py``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from opensearch_llm.testing import FakeDeepSeek, Faults, RecordedRequest, fake_reply

KEY = "sk-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def chat(ds: FakeDeepSeek, body: Any, path: str = "/chat/completions", **kw: Any) -> requests.Response:
    headers = kw.pop("headers", AUTH)
    return requests.post(ds.url + path, json=body, headers=headers, timeout=10, **kw)


NO_THINKING = {"thinking": {"type": "disabled"}}


def user(text: str, model: str = "deepseek-flash", **extra: Any) -> Dict[str, Any]:
    """A one-message request in non-thinking mode (``thinking=None`` leaves DeepSeek's default: on)."""
    extra = {**NO_THINKING, **extra}
    if extra.get("thinking") is None:
        extra.pop("thinking")
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def sse_events(resp: requests.Response) -> List[str]:
    return [line[len("data: "):] for line in resp.iter_lines(decode_unicode=True) if line.startswith("data: ")]


# --- wire format --------------------------------------------------------------------------------
def test_chat_completion_wire_format(ds: FakeDeepSeek) -> None:
    r = chat(ds, {"model": "deepseek-flash", "temperature": 0.2, "top_p": 0.9, "whatever": 1, **NO_THINKING,
                  "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello big world"}]})
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    assert int(r.headers["Content-Length"]) == len(r.content)
    body = r.json()
    assert body["id"].startswith("chatcmpl-")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int) and abs(body["created"] - time.time()) < 60
    assert body["model"] == "deepseek-flash"
    assert body["system_fingerprint"] == "fp_fake"
    (choice,) = body["choices"]
    assert choice["index"] == 0 and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "Echo: hello big world"}
    assert body["usage"]["prompt_tokens"] == 5  # "be brief" + "hello big world"
    assert body["usage"]["completion_tokens"] == 4
    assert body["usage"]["total_tokens"] == 9
    assert body["usage"]["prompt_cache_miss_tokens"] == 5 and "completion_tokens_details" not in body["usage"]


def test_v1_path_and_ids_increase(ds: FakeDeepSeek) -> None:
    a = chat(ds, user("one"), path="/v1/chat/completions").json()
    b = chat(ds, user("two")).json()
    assert a["choices"][0]["message"]["content"] == "Echo: one"
    assert a["id"] != b["id"]


def test_models_list(ds: FakeDeepSeek) -> None:
    for path in ("/models", "/v1/models"):
        body = requests.get(ds.url + path, headers=AUTH, timeout=5).json()
        assert body["object"] == "list"
        assert [m["id"] for m in body["data"]] == ["deepseek-flash", "deepseek-v4-pro"]
        for m in body["data"]:  # the shape of DeepSeek's "Lists Models" page
            assert m["object"] == "model" and m["owned_by"] == "deepseek"
            assert m["max_output_tokens"] == 393216 and m["context_window"] == 1048576
            assert m["effort"] == {"supported_levels": ["low", "high", "max"], "default_level": "high"}
    assert requests.get(ds.url + "/models", timeout=5).status_code == 401


def test_reply_rule() -> None:
    assert fake_reply([{"role": "user", "content": "Reply with the single word pong"}]) == "pong"
    assert fake_reply([{"role": "user", "content": "PONG?"}]) == "pong"
    assert fake_reply([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "x"}]) == "Echo: hi"
    assert fake_reply([{"role": "tool", "content": "42", "tool_call_id": "c"}]) == "Tool said: 42"
    assert fake_reply([{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]) \
        == "Echo: ab"


def test_pong_over_http(ds: FakeDeepSeek) -> None:
    body = chat(ds, user("Reply with the single word pong")).json()
    assert body["choices"][0]["message"]["content"] == "pong"


# --- auth ---------------------------------------------------------------------------------------
def test_wrong_key_is_401_and_masked(ds: FakeDeepSeek) -> None:
    wrong = "sk-wrong-secret-value-9876"
    r = chat(ds, user("hi"), headers={"Authorization": f"Bearer {wrong}"})
    assert r.status_code == 401
    assert r.json() == {"error": {"message": "Authentication Fails, Your api key: ****9876 is invalid",
                                  "type": "authentication_error", "param": None, "code": "invalid_request_error"}}
    assert wrong not in r.text and "wrong-secret" not in r.text


def test_missing_auth_header_is_401(ds: FakeDeepSeek) -> None:
    r = chat(ds, user("hi"), headers={})
    assert r.status_code == 401
    assert r.json()["error"]["type"] == "authentication_error"


# --- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize("body, status, fragment", [
    ({"messages": [{"role": "user", "content": "x"}]}, 422, "missing field `model`"),
    (user("x", model="gpt-4o"), 400, "The supported API model names are deepseek-flash or deepseek-v4-pro, "
                                     "but you passed gpt-4o."),
    (user("x", model="deepseek-chat"), 400, "but you passed deepseek-chat."),          # retired 2026-07-24
    (user("x", model="deepseek-reasoner"), 400, "but you passed deepseek-reasoner."),
    ({"model": "deepseek-flash", "messages": []}, 400, "Empty input messages"),
    ({"model": "deepseek-flash"}, 422, "missing field `messages`"),
    ({"model": "deepseek-flash", "messages": [{"role": "robot", "content": "x"}]}, 422, "unknown variant `robot`"),
    ({"model": "deepseek-flash", "messages": [{"role": "user", "content": 5}]}, 422, "`content` must be a string"),
    ({"model": "deepseek-flash", "messages": [{"role": "assistant", "content": None}]}, 400, "assistant content"),
    ({"model": "deepseek-flash", "messages": [{"role": "user", "content": "x"},
                                              {"role": "tool", "content": "r", "tool_call_id": "nope"}]},
     400, "tool_call_id `nope` does not match"),
    ({"model": "deepseek-flash", "messages": [
        {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]},
     400, "each tool_call needs id"),
    (user("x", max_tokens=0), 400, "Invalid max_tokens value, the valid range of max_tokens is [1, 393216]"),
    (user("x", tools=[{"type": "function"}]), 400, "tools"),
    ([1, 2], 422, "Failed to deserialize"),
])
def test_validation_errors(ds: FakeDeepSeek, body: Any, status: int, fragment: str) -> None:
    r = chat(ds, body)
    assert r.status_code == status
    err = r.json()["error"]
    assert err["type"] == "invalid_request_error" and err["code"] == "invalid_request_error"
    assert err["param"] is None
    assert fragment in err["message"]


def test_non_json_body_is_400(ds: FakeDeepSeek) -> None:
    r = requests.post(ds.url + "/chat/completions", data=b"{not json", headers=AUTH, timeout=5)
    assert r.status_code == 400
    assert "Failed to parse the request body as JSON" in r.json()["error"]["message"]


# --- tools, reasoning, max_tokens --------------------------------------------------------------------
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def test_tool_call_round_trip(ds: FakeDeepSeek) -> None:
    first = [{"role": "user", "content": "What is the weather in Paris?"}]
    body = chat(ds, {"model": "deepseek-flash", "messages": first, "tools": TOOLS, "tool_choice": "auto",
                     **NO_THINKING}).json()
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [{"id": "call_0", "type": "function", "function": {
        "name": "get_weather", "arguments": '{"city": "Paris"}'}}]
    follow = first + [choice["message"], {"role": "tool", "tool_call_id": "call_0", "content": "18C and sunny"}]
    second = chat(ds, {"model": "deepseek-flash", "messages": follow, "tools": TOOLS, **NO_THINKING}).json()
    assert second["choices"][0]["finish_reason"] == "stop"
    assert second["choices"][0]["message"]["content"] == "Tool said: 18C and sunny"


def test_weather_without_tools_is_plain_echo(ds: FakeDeepSeek) -> None:
    body = chat(ds, user("weather?")).json()
    assert body["choices"][0]["message"]["content"] == "Echo: weather?"


def test_thinking_is_on_by_default(ds: FakeDeepSeek) -> None:
    msg = chat(ds, user("why sky blue", thinking=None)).json()["choices"][0]["message"]
    assert msg["reasoning_content"] == "Thinking about: why sky blue"
    assert msg["content"] == "Echo: why sky blue"
    plain = chat(ds, user("why sky blue")).json()["choices"][0]["message"]
    assert "reasoning_content" not in plain


def test_max_tokens_truncates(ds: FakeDeepSeek) -> None:
    body = chat(ds, user("one two three four", max_tokens=2)).json()
    assert body["choices"][0]["message"]["content"] == "Echo: one"
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["usage"]["completion_tokens"] == 2


# --- streaming ------------------------------------------------------------------------------------
def test_sse_stream_matches_non_stream(ds: FakeDeepSeek) -> None:
    text = "stream  me   please"
    full = chat(ds, user(text)).json()["choices"][0]["message"]["content"]
    r = chat(ds, user(text, stream=True), stream=True)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/event-stream")
    assert r.headers.get("Transfer-Encoding") == "chunked"
    events = sse_events(r)
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert len(chunks) >= 4
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == full == f"Echo: {text}"
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] == len(full.split())


def test_sse_stream_thinking_sends_reasoning_first(ds: FakeDeepSeek) -> None:
    r = chat(ds, user("deep thought", model="deepseek-v4-pro", thinking=None, stream=True), stream=True)
    chunks = [json.loads(e) for e in sse_events(r)[:-1]]
    deltas = [c["choices"][0]["delta"] for c in chunks]
    reasoning_idx = [i for i, d in enumerate(deltas) if d.get("reasoning_content")]
    content_idx = [i for i, d in enumerate(deltas) if d.get("content")]
    assert reasoning_idx and content_idx and max(reasoning_idx) < min(content_idx)
    assert "".join(deltas[i]["reasoning_content"] for i in reasoning_idx) == "Thinking about: deep thought"
    assert "".join(deltas[i]["content"] for i in content_idx) == "Echo: deep thought"


def test_sse_stream_tool_call(ds: FakeDeepSeek) -> None:
    r = chat(ds, {"model": "deepseek-flash", "stream": True, "tools": TOOLS, **NO_THINKING,
                  "messages": [{"role": "user", "content": "weather in Paris"}]}, stream=True)
    chunks = [json.loads(e) for e in sse_events(r)[:-1]]
    calls = [d["tool_calls"] for d in (c["choices"][0]["delta"] for c in chunks) if "tool_calls" in d]
    assert calls == [[{"index": 0, "id": "call_0", "type": "function",
                       "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


# --- faults ----------------------------------------------------------------------------------------
def test_fault_429_with_retry_after_and_count_autoclear(ds: FakeDeepSeek) -> None:
    ds.fail(429, count=2, retry_after=7)
    for _ in range(2):
        r = chat(ds, user("hi"))
        assert r.status_code == 429
        assert r.headers["Retry-After"] == "7"
        assert r.json() == {"error": {"message": "Rate limit reached for requests", "type": "rate_limit_error",
                                      "code": "rate_limit_exceeded", "param": None}}
    assert chat(ds, user("hi")).status_code == 200
    assert ds.faults == Faults()


@pytest.mark.parametrize("status, type_, code", [
    (500, "server_error", "internal_error"), (503, "server_error", "service_unavailable"), (502, "api_error", "http_502"),
])
def test_fault_status_shapes(ds: FakeDeepSeek, status: int, type_: str, code: str) -> None:
    ds.fail(status)
    for _ in range(2):  # count=None: stays until cleared
        r = chat(ds, user("hi"))
        assert r.status_code == status
        err = r.json()["error"]
        assert (err["type"], err["code"]) == (type_, code) and err["message"]
        assert "Retry-After" not in r.headers
    ds.reset_faults()
    assert chat(ds, user("hi")).status_code == 200


def test_fault_fields_settable_directly(ds: FakeDeepSeek) -> None:
    ds.faults.status = 500
    ds.faults.count = 1
    assert chat(ds, user("hi")).status_code == 500
    assert chat(ds, user("hi")).status_code == 200


def test_fault_slow(ds: FakeDeepSeek) -> None:
    ds.slow(0.3)
    t0 = time.monotonic()
    r = chat(ds, user("hi"))
    assert time.monotonic() - t0 >= 0.3
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Echo: hi"


def test_fault_malformed_json(ds: FakeDeepSeek) -> None:
    ds.malformed(count=1)
    r = chat(ds, user("hi"))
    assert r.status_code == 200
    with pytest.raises(ValueError):
        json.loads(r.text)
    assert chat(ds, user("hi")).json()["object"] == "chat.completion"


def test_fault_path_contains_scopes(ds: FakeDeepSeek) -> None:
    ds.fail(500, path_contains="/v1/")
    assert chat(ds, user("hi")).status_code == 200
    assert chat(ds, user("hi"), path="/v1/chat/completions").status_code == 500


def test_fault_drop_connection(ds: FakeDeepSeek) -> None:
    ds.faults.drop_connection = True
    ds.faults.count = 1
    with pytest.raises(requests.ConnectionError):
        chat(ds, user("hi"))
    assert chat(ds, user("hi")).status_code == 200


# --- request log, lifecycle ------------------------------------------------------------------------
def test_request_log(ds: FakeDeepSeek) -> None:
    chat(ds, user("logged"), headers={**AUTH, "X-Custom": "Yes"})
    requests.get(ds.url + "/models?limit=1", headers=AUTH, timeout=5)
    reqs = ds.requests
    assert [r.method for r in reqs] == ["POST", "GET"]
    first = reqs[0]
    assert isinstance(first, RecordedRequest)
    assert first.path == "/chat/completions"
    assert first.headers["x-custom"] == "Yes" and first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json == user("logged") and json.loads(first.body) == user("logged")
    assert first.time <= time.time()
    assert ds.last_request().path == "/models" and ds.last_request().query == "limit=1"
    assert ds.last_request("/chat/completions") == first
    assert ds.last_request("/nothing") is None
    reqs.clear()
    assert len(ds.requests) == 2  # .requests is a copy
    ds.clear_requests()
    assert ds.requests == [] and ds.last_request() is None


def test_unknown_path_is_404_json(ds: FakeDeepSeek) -> None:
    r = requests.get(ds.url + "/nope", timeout=5)
    assert r.status_code == 404
    assert "error" in r.json()
    assert requests.get(ds.url + "/chat/completions", timeout=5).status_code == 405


def test_lifecycle() -> None:
    server = FakeDeepSeek(models=["my-model"])
    server.start()
    assert server.port > 0 and server.url == f"http://127.0.0.1:{server.port}"
    port = server.port
    assert requests.get(server.url + "/models", headers={"Authorization": "Bearer sk-test"}, timeout=5).ok
    server.stop()
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/models", timeout=2)


# --- standalone -------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_module(module: str, *args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=str(REPO_ROOT))


def first_line(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output from the fake server"
    return proc.stdout.readline().strip()


def test_standalone_entry_point() -> None:
    port = free_port()
    proc = run_module("opensearch_llm.testing.fake_deepseek", "--port", str(port), "--key", "cli-key")
    try:
        assert first_line(proc) == f"fake-deepseek listening on http://127.0.0.1:{port}"
        r = requests.post(f"http://127.0.0.1:{port}/chat/completions", json=user("cli"),
                          headers={"Authorization": "Bearer cli-key"}, timeout=5)
        assert r.json()["choices"][0]["message"]["content"] == "Echo: cli"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps the process and closes its pipes
