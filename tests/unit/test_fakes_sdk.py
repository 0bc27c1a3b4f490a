"""The official ``openai`` and ``ollama`` Python SDKs against the fakes: what real clients parse must parse."""

from __future__ import annotations

from typing import Any, Iterator

import pytest

openai = pytest.importorskip("openai")
ollama = pytest.importorskip("ollama")

from opensearch_llm.testing import FakeDeepSeek, FakeOllama  # noqa: E402

KEY = "sk-sdk-test-0123456789"
NO_THINKING = {"thinking": {"type": "disabled"}}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


@pytest.fixture()
def client(ds: FakeDeepSeek) -> Any:
    with openai.OpenAI(api_key=KEY, base_url=ds.url, max_retries=0, timeout=10) as c:
        yield c


@pytest.fixture()
def ol() -> Iterator[FakeOllama]:
    with FakeOllama(models=("llama3.2:1b", "nomic-embed-text", "qwen3:4b")) as server:
        yield server


def ask(text: str) -> list:
    return [{"role": "user", "content": text}]


# --- openai SDK against the fake DeepSeek ------------------------------------------------------------------
def test_chat_without_thinking(client: Any, ds: FakeDeepSeek) -> None:
    r = client.chat.completions.create(model="deepseek-flash", messages=ask("hello sdk"), temperature=0.2,
                                       max_tokens=50, extra_body=NO_THINKING)
    assert r.choices[0].message.content == "Echo: hello sdk" and r.choices[0].finish_reason == "stop"
    assert getattr(r.choices[0].message, "reasoning_content", None) is None
    assert r.usage.prompt_tokens == 2 and r.usage.total_tokens == 5
    sent = ds.last_request("/chat/completions").json
    assert sent["model"] == "deepseek-flash" and sent["thinking"] == {"type": "disabled"} and sent["temperature"] == 0.2


def test_thinking_on_by_default_and_effort(client: Any, ds: FakeDeepSeek) -> None:
    r = client.chat.completions.create(model="deepseek-v4-pro", messages=ask("why"), reasoning_effort="high")
    msg = r.choices[0].message
    assert msg.content == "Echo: why"
    assert msg.model_extra["reasoning_content"] == "Thinking about: why" == getattr(msg, "reasoning_content")
    assert r.usage.completion_tokens_details.reasoning_tokens == 3
    assert ds.last_request().json["reasoning_effort"] == "high" and "thinking" not in ds.last_request().json


def test_stream_with_include_usage(client: Any) -> None:
    chunks = list(client.chat.completions.create(model="deepseek-flash", messages=ask("stream it"), stream=True,
                                                 stream_options={"include_usage": True}))
    *answer, last = chunks
    assert last.choices == [] and last.usage.total_tokens == 2 + 3 + 4
    assert all(c.usage is None for c in answer)
    reasoning = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in answer)
    content = "".join(c.choices[0].delta.content or "" for c in answer)
    assert reasoning == "Thinking about: stream it" and content == "Echo: stream it"
    assert answer[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", ["deepseek-chat", "deepseek-reasoner"])
def test_retired_model_is_a_bad_request(client: Any, model: str) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model=model, messages=ask("hi"))
    assert info.value.status_code == 400 and info.value.code == "invalid_request_error"
    assert f"The supported API model names are deepseek-flash or deepseek-v4-pro, but you passed {model}." \
        in info.value.message


def test_type_error_is_unprocessable(client: Any) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as info:
        client.chat.completions.create(model="deepseek-flash", messages=ask("hi"), extra_body={"thinking": "yes"})
    assert "Failed to deserialize the JSON body" in info.value.message


def test_wrong_key_is_authentication_error(ds: FakeDeepSeek) -> None:
    with openai.OpenAI(api_key="sk-wrong-key-9999", base_url=ds.url, max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError) as info:
            bad.models.list()
    assert info.value.status_code == 401 and "****9999" in info.value.message
    assert "sk-wrong-key" not in info.value.message


def test_rate_limit_with_retry_after(client: Any, ds: FakeDeepSeek) -> None:
    ds.fail(429, count=1, retry_after=1)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="deepseek-flash", messages=ask("hi"))
    assert info.value.response.headers["retry-after"] == "1"
    ds.fail(429, count=1, retry_after=1)
    with openai.OpenAI(api_key=KEY, base_url=ds.url, max_retries=1) as patient:
        ds.clear_requests()
        r = patient.chat.completions.create(model="deepseek-flash", messages=ask("again"), extra_body=NO_THINKING)
    assert r.choices[0].message.content == "Echo: again"
    assert len(ds.requests) == 2  # the SDK waited for Retry-After and tried once more


def test_models_list(client: Any) -> None:
    models = client.models.list()
    assert [m.id for m in models] == ["deepseek-flash", "deepseek-v4-pro"]
    assert all(m.owned_by == "deepseek" and m.model_extra["max_output_tokens"] == 393216 for m in models)


def test_tool_call_round_trip_passes_reasoning_back(client: Any) -> None:
    messages: list = ask("What is the weather in Paris?")
    first = client.chat.completions.create(model="deepseek-flash", messages=messages, tools=TOOLS)
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and msg.content is None
    [call] = msg.tool_calls
    assert call.function.name == "get_weather" and call.function.arguments == '{"city": "Paris"}'
    tool = {"role": "tool", "tool_call_id": call.id, "content": "18C"}
    stripped = {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]}
    with pytest.raises(openai.BadRequestError, match="reasoning_content. in the thinking mode must be passed back"):
        client.chat.completions.create(model="deepseek-flash", messages=messages + [stripped, tool], tools=TOOLS)
    kept = msg.model_dump(exclude_none=True)  # keeps reasoning_content, as DeepSeek's guide does
    second = client.chat.completions.create(model="deepseek-flash", messages=messages + [kept, tool], tools=TOOLS)
    assert second.choices[0].message.content == "Tool said: 18C"


# --- ollama SDK against the fake Ollama ----------------------------------------------------------------------
def test_ollama_list_show_ps(ol: FakeOllama) -> None:
    c = ollama.Client(host=ol.url)
    assert [m.model for m in c.list().models] == ["llama3.2:1b", "nomic-embed-text:latest", "qwen3:4b"]
    shown = c.show("qwen3:4b")
    assert shown.capabilities == ["completion", "tools", "thinking"] and shown.details.family == "qwen3"
    assert shown.modelinfo["general.architecture"] == "qwen3" and shown.modified_at is not None
    assert c.ps().models == []
    c.generate(model="llama3.2:1b", prompt="hi")
    [running] = c.ps().models
    assert running.model == "llama3.2:1b" and running.size_vram == running.size and running.expires_at is not None
    with pytest.raises(ollama.ResponseError) as info:
        c.show("ghost")
    assert info.value.status_code == 404


def test_ollama_chat_generate_embed(ol: FakeOllama) -> None:
    c = ollama.Client(host=ol.url)
    assert c.chat(model="llama3.2:1b", messages=ask("hi there")).message.content == "Echo: hi there"
    streamed = "".join(part.message.content for part in c.chat(model="llama3.2:1b", messages=ask("a b"), stream=True))
    assert streamed == "Echo: a b"
    assert c.generate(model="llama3.2:1b", prompt="say pong").response == "pong"
    vectors = c.embed(model="nomic-embed-text", input=["x", "y"]).embeddings
    assert len(vectors) == 2 and len(vectors[0]) == 8
    tools_answer = c.chat(model="llama3.2:1b", messages=ask("weather in Paris?"), tools=TOOLS)
    assert tools_answer.message.tool_calls[0].function.arguments == {"city": "Paris"}


def test_ollama_thinking(ol: FakeOllama) -> None:
    c = ollama.Client(host=ol.url)
    thought = c.chat(model="qwen3:4b", messages=ask("why"), think=True)
    assert thought.message.thinking == "Thinking about: why" and thought.message.content == "Echo: why"
    assert c.generate(model="qwen3:4b", prompt="why", think=True).thinking == "Thinking about: why"
    with pytest.raises(ollama.ResponseError) as info:
        c.chat(model="llama3.2:1b", messages=ask("why"), think=True)
    assert info.value.status_code == 400 and info.value.error == '"llama3.2:1b" does not support thinking'


def test_ollama_pull_stream(ol: FakeOllama) -> None:
    c = ollama.Client(host=ol.url)
    parts = list(c.pull("smollm2:135m", stream=True))
    assert parts[0].status == "pulling manifest" and parts[-1].status == "success"
    progress = [p for p in parts if p.total]
    assert progress and all(p.completed <= p.total for p in progress)
    assert "smollm2:135m" in [m.model for m in c.list().models]
    with pytest.raises(ollama.ResponseError):
        list(c.pull("no-such-model:1b", stream=True))
