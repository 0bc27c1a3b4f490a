"""Unit tests for the offline Ollama stand-in (real HTTP over 127.0.0.1, via ``requests``)."""

from __future__ import annotations

import json
import math
import os
import re
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

from opensearch_llm.testing import FakeOllama, fake_reply

REPO_ROOT = Path(__file__).resolve().parents[2]
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATS = ("total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration", "eval_count", "eval_duration")


@pytest.fixture()
def ol() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


def post(ol: FakeOllama, path: str, body: Any, **kw: Any) -> requests.Response:
    return requests.post(ol.url + path, json=body, timeout=10, **kw)


def ndjson(resp: requests.Response) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in resp.iter_lines() if line.strip()]


def tag_names(ol: FakeOllama) -> List[str]:
    return [m["name"] for m in requests.get(ol.url + "/api/tags", timeout=5).json()["models"]]


# --- basics ----------------------------------------------------------------------------------------
def test_root_head_and_version(ol: FakeOllama) -> None:
    r = requests.get(ol.url + "/", timeout=5)
    assert r.status_code == 200 and r.text == "Ollama is running"
    assert r.headers["Content-Type"].startswith("text/plain")
    h = requests.head(ol.url + "/", timeout=5)
    assert h.status_code == 200 and h.content == b""
    assert requests.get(ol.url + "/api/version", timeout=5).json() == {"version": "0.12.6"}


def test_tags_shape(ol: FakeOllama) -> None:
    models = requests.get(ol.url + "/api/tags", timeout=5).json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:1b", "nomic-embed-text:latest"]
    for m in models:
        assert m["model"] == m["name"]
        assert RFC3339.match(m["modified_at"])
        assert isinstance(m["size"], int) and m["size"] > 0
        assert re.fullmatch(r"[0-9a-f]{64}", m["digest"])
        d = m["details"]
        assert d["format"] == "gguf" and d["parent_model"] == ""
        assert d["families"] == [d["family"]]
        assert isinstance(d["parameter_size"], str) and isinstance(d["quantization_level"], str)
    assert models[0]["details"]["family"] == "llama"


# --- pull ----------------------------------------------------------------------------------------------
def test_pull_stream_progress_then_in_tags(ol: FakeOllama) -> None:
    assert "smollm2:135m" not in tag_names(ol)
    r = post(ol, "/api/pull", {"model": "smollm2:135m"}, stream=True)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-ndjson"
    lines = ndjson(r)
    assert lines[0] == {"status": "pulling manifest"}
    assert [l["status"] for l in lines[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    progress = [l for l in lines if "digest" in l]
    digests = list(dict.fromkeys(l["digest"] for l in progress))
    assert len(digests) == 2
    for digest in digests:
        steps = [l for l in progress if l["digest"] == digest]
        assert len(steps) >= 3
        assert steps[0]["status"] == f"pulling {digest[len('sha256:'):][:12]}"
        completed = [s["completed"] for s in steps]
        assert completed == sorted(completed) and completed[0] < completed[-1] == steps[-1]["total"]
    assert "smollm2:135m" in tag_names(ol)
    assert ol.has_model("smollm2:135m")


def test_pull_non_stream_and_legacy_name(ol: FakeOllama) -> None:
    r = post(ol, "/api/pull", {"name": "qwen3:4b", "stream": False})
    assert r.status_code == 200 and r.json() == {"status": "success"}
    assert "qwen3:4b" in tag_names(ol)


def test_pull_unknown_model_stream_reports_error_line(ol: FakeOllama) -> None:
    r = post(ol, "/api/pull", {"model": "no-such-model:7b"}, stream=True)
    assert r.status_code == 200
    lines = ndjson(r)
    assert lines[-1] == {"error": "pull model manifest: file does not exist"}
    assert not any(l.get("status") == "success" for l in lines)
    assert "no-such-model:7b" not in tag_names(ol)


def test_pull_unknown_model_non_stream_is_500(ol: FakeOllama) -> None:
    r = post(ol, "/api/pull", {"model": "no-such-model", "stream": False})
    assert r.status_code == 500
    assert r.json() == {"error": "pull model manifest: file does not exist"}


def test_pull_cut_short(ol: FakeOllama) -> None:
    ol.cut_pull_after = 3
    r = post(ol, "/api/pull", {"model": "smollm2:135m"}, stream=True)
    got: List[Dict[str, Any]] = []
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        for line in r.iter_lines():
            if line.strip():
                got.append(json.loads(line))
    assert len(got) == 3 and all(l.get("status") != "success" for l in got)
    assert "smollm2:135m" not in tag_names(ol)
    ol.reset_faults()
    assert ol.cut_pull_after is None
    assert ndjson(post(ol, "/api/pull", {"model": "smollm2:135m"}, stream=True))[-1] == {"status": "success"}


def test_pull_requires_model_and_delete(ol: FakeOllama) -> None:
    assert post(ol, "/api/pull", {}).json() == {"error": "model is required"}
    r = requests.delete(ol.url + "/api/delete", json={"model": "llama3.2:1b"}, timeout=5)
    assert r.status_code == 200
    assert "llama3.2:1b" not in tag_names(ol)
    assert requests.delete(ol.url + "/api/delete", json={"model": "llama3.2:1b"}, timeout=5).status_code == 404


# --- generate ------------------------------------------------------------------------------------------
def test_generate_non_stream(ol: FakeOllama) -> None:
    r = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "tell me things", "stream": False,
                                    "options": {"temperature": 0}})
    assert r.status_code == 200
    body = r.json()
    assert body["model"] == "llama3.2:1b" and RFC3339.match(body["created_at"])
    assert body["response"] == "Echo: tell me things" == fake_reply([{"role": "user", "content": "tell me things"}])
    assert body["done"] is True and body["done_reason"] == "stop"
    assert body["context"] == [1, 2, 3]
    assert all(isinstance(body[k], int) for k in STATS)
    assert body["prompt_eval_count"] == 3 and body["eval_count"] == 4


def test_generate_streams_by_default(ol: FakeOllama) -> None:
    r = post(ol, "/api/generate", {"model": "llama3.2", "prompt": "Reply with the single word pong"}, stream=True)
    assert r.status_code == 404  # "llama3.2" means llama3.2:latest, which is not present
    r = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "a  b c"}, stream=True)
    assert r.headers["Content-Type"] == "application/x-ndjson"
    lines = ndjson(r)
    assert all(l["done"] is False for l in lines[:-1]) and len(lines) >= 3
    assert "".join(l["response"] for l in lines) == "Echo: a  b c"
    last = lines[-1]
    assert last["done"] is True and last["done_reason"] == "stop" and all(k in last for k in STATS)


def test_generate_pong_and_num_predict(ol: FakeOllama) -> None:
    pong = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "say PONG", "stream": False}).json()
    assert pong["response"] == "pong"
    cut = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "w x y z", "stream": False,
                                      "options": {"num_predict": 2}}).json()
    assert cut["response"] == "Echo: w" and cut["done_reason"] == "length" and cut["eval_count"] == 2


def test_generate_errors(ol: FakeOllama) -> None:
    r = post(ol, "/api/generate", {"model": "x", "prompt": "hi"})
    assert r.status_code == 404 and r.json() == {"error": 'model "x" not found, try pulling it first'}
    r = post(ol, "/api/generate", {"prompt": "hi"})
    assert r.status_code == 400 and r.json() == {"error": "model is required"}
    r = post(ol, "/api/generate", {"model": "nomic-embed-text", "prompt": "hi"})
    assert r.status_code == 400 and "does not support generate" in r.json()["error"]
    r = requests.post(ol.url + "/api/generate", data=b"garbage", timeout=5)
    assert r.status_code == 400 and "error" in r.json()


# --- chat ----------------------------------------------------------------------------------------------
def test_chat_non_stream_and_stream(ol: FakeOllama) -> None:
    msgs = [{"role": "system", "content": "sys"}, {"role": "user", "content": "chat with me"}]
    body = post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": msgs, "stream": False}).json()
    assert body["message"] == {"role": "assistant", "content": "Echo: chat with me"}
    assert body["done"] is True and body["done_reason"] == "stop" and RFC3339.match(body["created_at"])
    assert body["prompt_eval_count"] == 4 and all(isinstance(body[k], int) for k in STATS)
    lines = ndjson(post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": msgs}, stream=True))
    assert "".join(l["message"]["content"] for l in lines) == "Echo: chat with me"
    assert [l["done"] for l in lines] == [False] * (len(lines) - 1) + [True]


def test_chat_tool_call_and_tool_reply(ol: FakeOllama) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    msgs = [{"role": "user", "content": "weather in Paris?"}]
    body = post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": msgs, "tools": tools, "stream": False}).json()
    calls = body["message"]["tool_calls"]
    assert calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["function"]["arguments"] == {"city": "Paris"}
    follow = msgs + [body["message"], {"role": "tool", "content": "sunny"}]
    again = post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": follow, "tools": tools, "stream": False}).json()
    assert again["message"]["content"] == "Tool said: sunny"


def test_chat_bad_role(ol: FakeOllama) -> None:
    r = post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": [{"role": "wizard", "content": "x"}]})
    assert r.status_code == 400 and "wizard" in r.json()["error"]


def test_openai_compatible_chat(ol: FakeOllama) -> None:
    r = post(ol, "/v1/chat/completions", {"model": "nomic-embed-text", "messages": [{"role": "user", "content": "q"}]})
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Echo: q"
    r = post(ol, "/v1/chat/completions", {"model": "ghost", "messages": [{"role": "user", "content": "q"}]})
    assert r.status_code == 404 and "not found" in r.json()["error"]["message"]
    assert [m["id"] for m in requests.get(ol.url + "/v1/models", timeout=5).json()["data"]] == ol.models


# --- embeddings ---------------------------------------------------------------------------------------
def test_embed_deterministic_vectors() -> None:
    with FakeOllama(embed_dim=12) as ol:
        body = post(ol, "/api/embed", {"model": "nomic-embed-text", "input": ["alpha", "beta", "alpha"]}).json()
        assert body["model"] == "nomic-embed-text"
        a, b, a2 = body["embeddings"]
        assert len(a) == len(b) == 12 and all(isinstance(v, float) for v in a)
        assert a == a2 and a != b
        assert math.isclose(math.sqrt(sum(v * v for v in a)), 1.0, rel_tol=1e-9)
        assert isinstance(body["total_duration"], int) and body["prompt_eval_count"] == 3
        single = post(ol, "/api/embed", {"model": "nomic-embed-text", "input": "alpha"}).json()
        assert single["embeddings"] == [a]
        legacy = post(ol, "/api/embeddings", {"model": "nomic-embed-text", "prompt": "alpha"}).json()
        assert legacy == {"embedding": a}
        assert post(ol, "/api/embed", {"model": "nomic-embed-text", "input": 5}).status_code == 400
        assert post(ol, "/api/embed", {"model": "missing", "input": "x"}).status_code == 404


# --- faults, log ----------------------------------------------------------------------------------------
def test_fault_shapes_and_scoping(ol: FakeOllama) -> None:
    ol.fail(429, retry_after=3, path_contains="/api/chat", count=1)
    assert post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "x", "stream": False}).status_code == 200
    r = post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": []})
    assert r.status_code == 429 and r.headers["Retry-After"] == "3" and isinstance(r.json()["error"], str)
    assert post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": [], "stream": False}).status_code == 200
    ol.fail(503)
    r = requests.get(ol.url + "/api/tags", timeout=5)
    assert r.status_code == 503 and "server busy" in r.json()["error"]
    ol.reset_faults()
    assert requests.get(ol.url + "/api/tags", timeout=5).status_code == 200


def test_fault_malformed_slow_drop(ol: FakeOllama) -> None:
    ol.malformed(count=1)
    r = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "x", "stream": False})
    with pytest.raises(ValueError):
        r.json()
    ol.slow(0.2)
    t0 = time.monotonic()
    assert requests.get(ol.url + "/api/version", timeout=5).ok
    assert time.monotonic() - t0 >= 0.2
    ol.reset_faults()
    ol.drop(count=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(ol.url + "/api/tags", timeout=5)
    assert requests.get(ol.url + "/api/tags", timeout=5).ok


def test_request_log_and_404(ol: FakeOllama) -> None:
    post(ol, "/api/embed", {"model": "nomic-embed-text", "input": "logme"})
    rec = ol.last_request("/api/embed")
    assert rec is not None and rec.method == "POST" and rec.json == {"model": "nomic-embed-text", "input": "logme"}
    assert rec.headers["content-type"] == "application/json"
    r = requests.get(ol.url + "/api/nothing", timeout=5)
    assert r.status_code == 404 and isinstance(r.json()["error"], str)
    assert [q.path for q in ol.requests] == ["/api/embed", "/api/nothing"]


# --- standalone --------------------------------------------------------------------------------------------
def test_standalone_entry_point() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "opensearch_llm.testing.fake_ollama", "--port", str(port),
                             "--model", "qwen3:4b"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=str(REPO_ROOT))
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 10)
        assert ready, "no output from the fake server"
        assert proc.stdout.readline().strip() == f"fake-ollama listening on http://127.0.0.1:{port}"
        models = requests.get(f"http://127.0.0.1:{port}/api/tags", timeout=5).json()["models"]
        assert [m["name"] for m in models] == ["qwen3:4b"]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)  # reaps the process and closes its pipes
