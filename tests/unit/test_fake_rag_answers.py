"""The fakes' answers to the prompts ML Commons builds for RAG and for conversational agents.

The prompts are rebuilt here the way ML Commons 2.19 / 3.6 builds them: ``PromptUtil.buildMessageParameter``
(OpenAI provider) for the ``retrieval_augmented_generation`` processor, and the chat history of
``MLConversationalFlowAgentRunner`` (``ConversationIndexMessage.toString()`` lines) for an agent's
MLModelTool prompt.  Requests go over real HTTP to fakes started in-process.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import pytest
import requests

from opensearch_llm.testing import FakeDeepSeek, FakeOllama, fake_reply

KEY = "sk-rag-test-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
PASSAGE = "Project Aurora launches on 12 March 2027."
Q1, A1 = "When does Project Aurora launch?", "From the search results: Project Aurora launches on 12 March 2027."
Q2, A2 = "Who leads it?", "Dana Smith leads it."
HEADER = "Below is Chat History between Human and AI which sorted by time with asc order:\n"
TOOL_PROMPT = "Answer from the context.\nContext:\n{context}\n{chat_history}Human:{question}\nAssistant:"


def _parts(*texts: str) -> List[Dict[str, str]]:
    return [{"type": "text", "text": t} for t in texts]


def rag_messages(question: str, contexts: Sequence[str], history: Sequence[Tuple[str, str]] = (),
                 system: str = "You are a helpful assistant.",
                 instructions: str = "Answer from the search results only.") -> List[Dict[str, Any]]:
    """What PromptUtil.buildMessageParameter sends (``history`` oldest first)."""
    first = [instructions] + [f"SEARCH RESULT {i}: {c}" for i, c in enumerate(contexts, 1)]
    messages: List[Dict[str, Any]] = [{"role": "system", "content": _parts(system)}]
    if not history:
        return messages + [{"role": "user", "content": _parts(*first, f"QUESTION: {question}\n", "ANSWER:")}]
    (q0, a0), rest = history[0], history[1:]
    messages += [{"role": "user", "content": _parts(*first, q0)}, {"role": "assistant", "content": _parts(a0)}]
    for q, a in rest:
        messages += [{"role": "user", "content": _parts(q)}, {"role": "assistant", "content": _parts(a)}]
    return messages + [{"role": "user", "content": _parts(f"QUESTION: {question}\n", "ANSWER:")}]


def agent_prompt(question: str, history: Sequence[Tuple[str, str]] = ()) -> str:
    """An MLModelTool prompt with ``${parameters.chat_history:-}`` filled as the flow agent fills it."""
    chat_history = HEADER + "".join(f"Human:{q}\nAssistant:{a}\n" for q, a in history) if history else ""
    return TOOL_PROMPT.format(context=PASSAGE, chat_history=chat_history, question=question)


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


@pytest.fixture()
def ol() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


def deepseek_answer(ds: FakeDeepSeek, messages: List[Dict[str, Any]], **extra: Any) -> str:
    body = {"model": "deepseek-flash", "messages": messages, **extra}
    r = requests.post(ds.url + "/chat/completions", json=body, headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["choices"][0]["message"]["content"]


def sent_texts(server: Any, path: str) -> List[str]:
    """Every text part / prompt of the chat requests ``server`` received on ``path``."""
    out: List[str] = []
    for rec in server.requests:
        if rec.path == path:
            body = rec.json
            out += [body["prompt"]] if "prompt" in body else [
                p if isinstance(p, str) else p["text"] for m in body["messages"]
                for p in ([m["content"]] if isinstance(m["content"], str) else m["content"])]
    return out


# --- RAG (retrieval_augmented_generation processor, OpenAI message format) ------------------------------------
def test_rag_answer_quotes_the_first_search_result(ds: FakeDeepSeek) -> None:
    messages = rag_messages(Q1, [PASSAGE, "Project Borealis was cancelled."])
    assert deepseek_answer(ds, messages) == f"From the search results: {PASSAGE}"
    assert f"SEARCH RESULT 1: {PASSAGE}" in sent_texts(ds, "/chat/completions")


def test_rag_answer_without_search_results(ds: FakeDeepSeek) -> None:
    assert deepseek_answer(ds, rag_messages(Q1, [])) == "No search results."


def test_rag_follow_up_names_the_first_earlier_question(ds: FakeDeepSeek) -> None:
    messages = rag_messages("And the budget?", [PASSAGE], history=[(Q1, A1), (Q2, A2)])
    assert deepseek_answer(ds, messages) == f"From the search results: {PASSAGE} Earlier you asked: {Q1}"
    texts = sent_texts(ds, "/chat/completions")
    assert Q1 in texts and A1 in texts and Q2 in texts and A2 in texts


def test_rag_answer_streams_and_is_cut_like_any_other(ds: FakeDeepSeek) -> None:
    messages = rag_messages(Q1, [PASSAGE])
    r = requests.post(ds.url + "/chat/completions", headers=AUTH, timeout=10, stream=True,
                      json={"model": "deepseek-flash", "messages": messages, "stream": True})
    events = [json.loads(line[6:]) for line in r.iter_lines(decode_unicode=True)
              if line.startswith("data: {")]
    content = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert content == f"From the search results: {PASSAGE}"
    assert deepseek_answer(ds, messages, max_tokens=4) == "From the search results:"


def test_rag_through_ollamas_openai_compatible_route(ol: FakeOllama) -> None:
    body = {"model": "llama3.2:1b", "messages": rag_messages(Q2, [PASSAGE], history=[(Q1, A1)])}
    r = requests.post(ol.url + "/v1/chat/completions", json=body, timeout=10)
    assert r.json()["choices"][0]["message"]["content"] == f"From the search results: {PASSAGE} Earlier you asked: {Q1}"


@pytest.mark.parametrize("messages", [
    [{"role": "user", "content": f"QUESTION: {Q1}\nANSWER:"}],  # one string, not ML Commons' parts
    [{"role": "user", "content": _parts(f"SEARCH RESULT 1: {PASSAGE}", f"QUESTION: {Q1}\n")}],  # no ANSWER:
    [{"role": "user", "content": _parts(f"SEARCH RESULT 1: {PASSAGE}", "ANSWER:")}],  # no QUESTION:
    rag_messages(Q1, [PASSAGE]) + [{"role": "assistant", "content": "x"}],  # last message is not the user's
])
def test_other_prompts_keep_the_echo_rule(messages: List[Dict[str, Any]]) -> None:
    user = [m for m in messages if m["role"] == "user"][-1]
    text = user["content"] if isinstance(user["content"], str) else "".join(p["text"] for p in user["content"])
    assert fake_reply(messages) == f"Echo: {text}"


def test_decorated_earlier_question_is_undecorated() -> None:
    messages = [{"role": "user", "content": _parts(f"SEARCH RESULT 1: {PASSAGE}", f"QUESTION: {Q1}\n", "ANSWER:")},
                {"role": "assistant", "content": A1},
                {"role": "user", "content": _parts(f"QUESTION: {Q2}\n", "ANSWER:")}]
    assert fake_reply(messages) == f"From the search results: {PASSAGE} Earlier you asked: {Q1}"


# --- conversational_flow agent (chat history in the tool prompt) --------------------------------------------
def ollama_chat(ol: FakeOllama, prompt: str) -> str:
    body = {"model": "llama3.2:1b", "messages": [{"role": "user", "content": prompt}], "stream": False}
    r = requests.post(ol.url + "/api/chat", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["message"]["content"]


def test_agent_conversation_names_the_first_question_every_turn(ol: FakeOllama) -> None:
    """Answers go back into the history as the agent's memory does; the fake's echo of turn 1 spans lines."""
    history: List[Tuple[str, str]] = []
    for question in (Q1, Q2, "And the budget?"):
        answer = ollama_chat(ol, agent_prompt(question, history))
        history.append((question, answer))
    assert [a for _, a in history] == [f"Echo: {agent_prompt(Q1)}", f"Echo: {Q2} Earlier you asked: {Q1}",
                                       f"Echo: And the budget? Earlier you asked: {Q1}"]
    sent = sent_texts(ol, "/api/chat")[-1]
    assert HEADER + "".join(f"Human:{q}\nAssistant:{a}\n" for q, a in history[:2]) in sent


@pytest.mark.parametrize("template", [
    "\n\nHuman:Answer from the context.\n\n Context:\n{context}\n\n{chat_history}\n\nHuman:{question}\n\nAssistant:",
    "{chat_history}Question: {question}",
    "Context: {context}\n{chat_history}{question}\n",
])
def test_agent_question_is_the_last_line_of_the_prompt(template: str) -> None:
    history = HEADER + f"Human:{Q1}\nAssistant:{A1}\nHuman:{Q2}\nAssistant:{A2}\n"
    prompt = template.format(context=PASSAGE, chat_history=history, question="And the budget?")
    assert fake_reply([{"role": "user", "content": prompt}]) == f"Echo: And the budget? Earlier you asked: {Q1}"


def test_agent_history_on_generate_and_deepseek(ol: FakeOllama, ds: FakeDeepSeek) -> None:
    prompt = agent_prompt("say pong", history=[(Q1, A1)])
    r = requests.post(ol.url + "/api/generate", json={"model": "llama3.2:1b", "prompt": prompt, "stream": False},
                      timeout=10)
    assert r.json()["response"] == f"pong Earlier you asked: {Q1}"
    assert sent_texts(ol, "/api/generate") == [prompt]
    answer = deepseek_answer(ds, [{"role": "user", "content": agent_prompt(Q2, history=[(Q1, A1)])}])
    assert answer == f"Echo: {Q2} Earlier you asked: {Q1}"


@pytest.mark.parametrize("prompt", [
    HEADER + "Human: no answer yet\nAssistant:",  # the header without a finished turn
    "Chat History: Human:hi\nAssistant:hello\n",  # no header
])
def test_prompts_without_agent_history_keep_the_echo_rule(prompt: str) -> None:
    assert fake_reply([{"role": "user", "content": prompt}]) == f"Echo: {prompt}"


# --- the official SDKs parse these answers -----------------------------------------------------------------
def test_openai_sdk_parses_rag_answers(ds: FakeDeepSeek) -> None:
    openai = pytest.importorskip("openai")
    messages = rag_messages(Q2, [PASSAGE], history=[(Q1, A1)])
    with openai.OpenAI(api_key=KEY, base_url=ds.url, max_retries=0, timeout=10) as client:
        r = client.chat.completions.create(model="deepseek-flash", messages=messages)
        assert r.choices[0].message.content == f"From the search results: {PASSAGE} Earlier you asked: {Q1}"
        stream = client.chat.completions.create(model="deepseek-flash", messages=messages, stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == r.choices[0].message.content


def test_ollama_sdk_parses_agent_answers(ol: FakeOllama) -> None:
    ollama = pytest.importorskip("ollama")
    prompt = agent_prompt(Q2, history=[(Q1, A1)])
    c = ollama.Client(host=ol.url)
    msg = c.chat(model="llama3.2:1b", messages=[{"role": "user", "content": prompt}]).message
    assert msg.content == f"Echo: {Q2} Earlier you asked: {Q1}"
    streamed = c.chat(model="llama3.2:1b", messages=[{"role": "user", "content": prompt}], stream=True)
    assert "".join(part.message.content for part in streamed) == msg.content
