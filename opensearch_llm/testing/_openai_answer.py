"""Answers of the fake chat-completions endpoints: the ``chat.completion`` body and the SSE stream.

In thinking mode the message carries ``reasoning_content`` (``"Thinking about: <last user
message>"``) next to ``content``; a stream sends a ``: keep-alive`` SSE comment before the first
reasoning chunk, as DeepSeek does while it thinks.  ``stream_options.include_usage`` makes every chunk
carry ``"usage": null`` and adds a last chunk with ``"choices": []`` and the usage before
``data: [DONE]``; without it the finishing chunk carries the usage (DeepSeek's behaviour).
``logprobs: true`` returns one entry per word piece (``top_logprobs`` alternatives each).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Container, Dict, Iterator, List, Optional

from opensearch_llm.testing._exchange import Exchange
from opensearch_llm.testing._openai_params import ChatRequest, validate_chat_request
from opensearch_llm.testing._openai_wire import (
    WireError, count_words, fake_reasoning, fake_reply, fake_tool_call, message_text, split_pieces, truncate_words,
)

KEEP_ALIVE = b": keep-alive\n\n"


@dataclass
class Answer:
    """What the fake says: content or a tool call, optional reasoning, and token counts."""

    content: Optional[str]
    reasoning: Optional[str]
    tool_call: Optional[Dict[str, Any]]
    finish_reason: str
    usage: Dict[str, Any]


def plan_answer(req: ChatRequest) -> Answer:
    """Work out the reply to a validated request (with reasoning in thinking mode)."""
    prompt_tokens = sum(count_words(message_text(m.get("content"))) for m in req.messages)
    reasoning = fake_reasoning(req.messages) if req.thinking else None
    call = fake_tool_call(req.messages, req.tools)
    if call is not None:
        content, finish, out_words = None, "tool_calls", count_words(call["function"]["arguments"])
    else:
        content, cut = truncate_words(fake_reply(req.messages), req.max_tokens)
        finish, out_words = ("length" if cut else "stop"), count_words(content)
    r_words = count_words(reasoning or "")
    usage: Dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": out_words + r_words,
                             "total_tokens": prompt_tokens + out_words + r_words,
                             "prompt_tokens_details": {"cached_tokens": 0},
                             "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": prompt_tokens}
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": r_words}
    return Answer(content, reasoning, call, finish, usage)


def token_logprobs(text: str, top: int) -> List[Dict[str, Any]]:
    """One logprob entry per word piece of ``text``, with ``top`` alternatives (the piece first)."""
    def entry(token: str, logprob: float) -> Dict[str, Any]:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}

    return [{**entry(p, 0.0), "top_logprobs": [entry(p, 0.0)] + [entry(f"<alt{k}>", -float(k)) for k in range(1, top)]
             if top else []} for p in split_pieces(text)]


def _logprobs(req: ChatRequest, content: Optional[str], reasoning: Optional[str]) -> Optional[Dict[str, Any]]:
    if not req.logprobs:
        return None
    out: Dict[str, Any] = {"content": token_logprobs(content or "", req.top_logprobs)}
    if reasoning:
        out["reasoning_content"] = token_logprobs(reasoning, req.top_logprobs)
    return out


def completion_body(req: ChatRequest, ans: Answer, completion_id: str, created: int) -> Dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    message: Dict[str, Any] = {"role": "assistant", "content": ans.content}
    if ans.reasoning is not None:
        message["reasoning_content"] = ans.reasoning
    if ans.tool_call is not None:
        message["tool_calls"] = [ans.tool_call]
    choice = {"index": 0, "message": message, "logprobs": _logprobs(req, ans.content, ans.reasoning),
              "finish_reason": ans.finish_reason}
    return {"id": completion_id, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [choice], "usage": ans.usage, "system_fingerprint": "fp_fake"}


def stream_chunks(req: ChatRequest, ans: Answer, completion_id: str, created: int) -> Iterator[Dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, in order (without ``[DONE]``)."""
    head = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": req.model,
            "system_fingerprint": "fp_fake"}
    extra = {"usage": None} if req.include_usage else {}

    def chunk(delta: Dict[str, Any], finish: Optional[str] = None, logprobs: Any = None) -> Dict[str, Any]:
        return {**head, "choices": [{"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish}],
                **extra}

    yield chunk({"role": "assistant", "content": ""})
    for piece in split_pieces(ans.reasoning or ""):
        yield chunk({"content": None, "reasoning_content": piece})
    if ans.tool_call is not None:
        yield chunk({"tool_calls": [{"index": 0, **ans.tool_call}]})
    for piece in split_pieces(ans.content or ""):
        yield chunk({"content": piece}, logprobs=_logprobs(req, piece, None))
    last = chunk({"content": ""}, ans.finish_reason)
    if req.include_usage:
        yield last
        yield {**head, "choices": [], "usage": ans.usage}
    else:
        yield {**last, "usage": ans.usage}


def sse_event(obj: Dict[str, Any]) -> bytes:
    """One ``data:`` event."""
    return b"data: " + json.dumps(obj).encode("utf-8") + b"\n\n"


def answer_chat_completion(ex: Exchange, models: Container[str], completion_id: str,
                           unknown_model: Optional[Callable[[str], WireError]] = None, *,
                           deepseek: bool = False) -> None:
    """Validate ``ex``'s body and answer it as JSON or as an SSE stream."""
    if ex.request.json is None and ex.request.body.strip():
        return ex.send_json(400, WireError("Failed to parse the request body as JSON").payload())
    try:
        req = validate_chat_request(ex.request.json, models, unknown_model, deepseek=deepseek)
    except WireError as err:
        return ex.send_json(err.status, err.payload())
    ans, created = plan_answer(req), int(time.time())
    if not req.stream:
        return ex.send_json(200, completion_body(req, ans, completion_id, created))
    ex.start_stream(200, "text/event-stream; charset=utf-8")
    kept_alive = False
    chunks = list(stream_chunks(req, ans, completion_id, created))
    for index, c in enumerate(chunks):
        delta = c["choices"][0]["delta"] if c["choices"] else {}
        if delta.get("reasoning_content") and not kept_alive:
            ex.write(KEEP_ALIVE)
            kept_alive = True
        if index == len(chunks) - 1:
            ex.settle()  # a client may send its next call as soon as it reads the last event: books first
        ex.write(sse_event(c))
    ex.write(b"data: [DONE]\n\n")
    ex.end_stream()
