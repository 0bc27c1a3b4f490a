"""The fake Ollama's /api/show, /api/ps and thinking, in the shapes of Ollama's API docs (raw HTTP)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, Iterator

import pytest
import requests

from opensearch_llm.testing import FakeOllama


@pytest.fixture()
def ol() -> Iterator[FakeOllama]:
    with FakeOllama(models=("llama3.2:1b", "nomic-embed-text", "qwen3:4b")) as server:
        yield server


def post(ol: FakeOllama, path: str, body: Any) -> requests.Response:
    return requests.post(ol.url + path, json=body, timeout=10)


def ps_names(ol: FakeOllama) -> list:
    return [m["name"] for m in requests.get(ol.url + "/api/ps", timeout=5).json()["models"]]


def test_show_shape_and_capabilities(ol: FakeOllama) -> None:
    body = post(ol, "/api/show", {"model": "llama3.2:1b"}).json()
    assert set(body) == {"modelfile", "parameters", "template", "details", "model_info", "capabilities",
                         "modified_at"}
    assert body["details"]["family"] == "llama" and body["details"]["parameter_size"] == "1B"
    assert body["model_info"]["general.architecture"] == "llama"
    assert body["capabilities"] == ["completion", "tools"]
    assert post(ol, "/api/show", {"model": "qwen3:4b"}).json()["capabilities"] == ["completion", "tools", "thinking"]
    assert post(ol, "/api/show", {"name": "nomic-embed-text"}).json()["capabilities"] == ["embedding"]


def test_show_errors(ol: FakeOllama) -> None:
    r = post(ol, "/api/show", {"model": "ghost"})
    assert r.status_code == 404 and r.json() == {"error": "model 'ghost' not found"}
    r = post(ol, "/api/show", {})
    assert r.status_code == 400 and r.json() == {"error": "model is required"}


def test_ps_lists_models_loaded_by_requests(ol: FakeOllama) -> None:
    assert requests.get(ol.url + "/api/ps", timeout=5).json() == {"models": []}
    post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "hi", "stream": False})
    post(ol, "/api/embed", {"model": "nomic-embed-text", "input": "x", "keep_alive": "10m"})
    models = requests.get(ol.url + "/api/ps", timeout=5).json()["models"]
    assert [m["name"] for m in models] == ["llama3.2:1b", "nomic-embed-text:latest"]
    first = models[0]
    assert first["model"] == first["name"] and first["size"] == first["size_vram"] > 0
    assert first["details"]["format"] == "gguf" and first["context_length"] == 4096
    expires = datetime.fromisoformat(first["expires_at"])
    assert expires > datetime.now(timezone.utc)
    assert datetime.fromisoformat(models[1]["expires_at"]) > expires  # 10m outlasts the default 5m


def test_keep_alive_zero_unloads_and_bad_duration_is_400(ol: FakeOllama) -> None:
    post(ol, "/api/chat", {"model": "llama3.2:1b", "messages": [{"role": "user", "content": "a"}], "stream": False})
    assert ps_names(ol) == ["llama3.2:1b"]
    r = post(ol, "/api/generate", {"model": "llama3.2:1b", "keep_alive": 0})
    assert r.json()["done_reason"] == "unload" and ps_names(ol) == []
    r = post(ol, "/api/generate", {"model": "llama3.2:1b", "prompt": "x", "keep_alive": "soon"})
    assert r.status_code == 400 and r.json() == {"error": 'time: invalid duration "soon"'}
    post(ol, "/api/generate", {"model": "llama3.2:1b", "keep_alive": -1})
    assert datetime.fromisoformat(requests.get(ol.url + "/api/ps", timeout=5).json()["models"][0]["expires_at"]).year \
        > datetime.now(timezone.utc).year + 50


def test_think_on_a_model_that_cannot_think_is_400(ol: FakeOllama) -> None:
    for path, body in (("/api/chat", {"messages": [{"role": "user", "content": "x"}]}), ("/api/generate", {"prompt": "x"})):
        r = post(ol, path, {"model": "llama3.2:1b", "think": True, **body})
        assert r.status_code == 400 and r.json() == {"error": '"llama3.2:1b" does not support thinking'}
        assert post(ol, path, {"model": "llama3.2:1b", "think": False, "stream": False, **body}).status_code == 200


def test_thinking_model_thinks_when_asked(ol: FakeOllama) -> None:
    msgs = [{"role": "user", "content": "why"}]
    body = post(ol, "/api/chat", {"model": "qwen3:4b", "messages": msgs, "think": True, "stream": False}).json()
    assert body["message"] == {"role": "assistant", "content": "Echo: why", "thinking": "Thinking about: why"}
    plain = post(ol, "/api/chat", {"model": "qwen3:4b", "messages": msgs, "stream": False}).json()
    assert "thinking" not in plain["message"]
    gen = post(ol, "/api/generate", {"model": "qwen3:4b", "prompt": "why", "think": "high", "stream": False}).json()
    assert gen["thinking"] == "Thinking about: why" and gen["response"] == "Echo: why"
    r = requests.post(ol.url + "/api/chat", json={"model": "qwen3:4b", "messages": msgs, "think": True}, stream=True,
                      timeout=10)
    lines = [json.loads(line) for line in r.iter_lines() if line.strip()]
    thinking = [l["message"].get("thinking", "") for l in lines]
    content = [l["message"]["content"] for l in lines]
    assert "".join(thinking) == "Thinking about: why" and "".join(content) == "Echo: why"
    assert max(i for i, t in enumerate(thinking) if t) < min(i for i, c in enumerate(content) if c)
