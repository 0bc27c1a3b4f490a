"""OpenAI / DeepSeek chat-completions wire format for the fakes: replies, validation, bodies, SSE.

Reply rule (shared by every fake, see :func:`fake_reply`):

* last message has role ``tool``          -> ``"Tool said: <its content>"``
* last user message contains ``pong``     -> ``"pong"`` (case-insensitive substring)
* otherwise                               -> ``"Echo: <last user content>"``

With ``tools`` in the request and ``weather`` in the last (user) message the answer is a tool
call instead (:func:`fake_tool_call`).  Token counts are whitespace word counts.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Container, Dict, Iterator, List, Optional, Tuple

from opensearch_llm.testing._exchange import Exchange

ROLES = ("system", "user", "assistant", "tool")
DESERIALIZE = "Failed to deserialize the JSON body into the target type"


class WireError(Exception):
    """A request the provider would refuse; ``payload()`` is the OpenAI error body."""

    def __init__(self, message: str, status: int = 400, type_: str = "invalid_request_error",
                 code: Optional[str] = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.status, self.type, self.code = message, status, type_, code

    def payload(self) -> Dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return openai_error(self.message, self.type, self.code)


def openai_error(message: str, type_: str, code: Optional[str], param: Optional[str] = None) -> Dict[str, Any]:
    """The OpenAI/DeepSeek error envelope."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}


_FAULTS = {
    400: ("Invalid request", "invalid_request_error", "invalid_request_error"),
    401: ("Authentication Fails (no such user)", "authentication_error", "invalid_request_error"),
    402: ("Insufficient Balance", "unknown_error", "invalid_request_error"),
    404: ("Not Found", "invalid_request_error", "not_found"),
    422: ("Invalid Parameters", "invalid_request_error", "invalid_request_error"),
    429: ("Rate limit reached for requests", "rate_limit_error", "rate_limit_exceeded"),
    500: ("The server had an error while processing your request", "server_error", "internal_error"),
    503: ("The server is overloaded, please try again later", "server_error", "service_unavailable"),
}


def openai_status_error(status: int, message: Optional[str] = None) -> Dict[str, Any]:
    """The error body a provider sends with ``status`` (429, 500, 503, ... or a generic one)."""
    default, type_, code = _FAULTS.get(status, (f"HTTP {status}", "api_error", f"http_{status}"))
    return openai_error(message or default, type_, code)


def message_text(content: Any) -> str:
    """Text of a message ``content``: a string, a list of ``{"type": "text"}`` parts, or None."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def last_user_text(messages: List[Dict[str, Any]]) -> str:
    """Content of the last ``user`` message, or ``""``."""
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return message_text(m.get("content"))
    return ""


def fake_reply(messages: List[Dict[str, Any]]) -> str:
    """The deterministic reply to ``messages`` (see the module docstring for the rule)."""
    if messages and isinstance(messages[-1], dict) and messages[-1].get("role") == "tool":
        return f"Tool said: {message_text(messages[-1].get('content'))}"
    text = last_user_text(messages)
    return "pong" if "pong" in text.lower() else f"Echo: {text}"


def fake_tool_call(messages: List[Dict[str, Any]], tools: Optional[List[Dict[str, Any]]]) -> Optional[Dict[str, Any]]:
    """``call_0`` to the first tool with ``{"city": "Paris"}`` when the last message is a user one about weather."""
    if not tools or not messages or messages[-1].get("role") != "user":
        return None
    if "weather" not in message_text(messages[-1].get("content")).lower():
        return None
    name = tools[0]["function"]["name"]
    return {"id": "call_0", "type": "function", "function": {"name": name, "arguments": '{"city": "Paris"}'}}


def split_pieces(text: str) -> List[str]:
    """Split into word pieces keeping whitespace, so ``"".join(split_pieces(t)) == t``."""
    pieces = re.findall(r"\s*\S+\s*", text)
    return pieces or ([text] if text else [])


def truncate_words(text: str, limit: Optional[int]) -> Tuple[str, bool]:
    """Cut ``text`` to ``limit`` words; returns (text, was_cut)."""
    pieces = split_pieces(text)
    if limit is None or len(text.split()) <= limit:
        return text, False
    return "".join(pieces[:limit]).rstrip(), True


def count_words(text: str) -> int:
    """Whitespace word count (the fakes' token count)."""
    return len(text.split())


@dataclass
class ChatRequest:
    """A validated chat-completions request (unknown fields ignored)."""

    model: str
    messages: List[Dict[str, Any]]
    tools: Optional[List[Dict[str, Any]]] = None
    max_tokens: Optional[int] = None
    stream: bool = False


def _check_message(i: int, m: Any, tool_ids: set) -> None:
    if not isinstance(m, dict):
        raise WireError(f"{DESERIALIZE}: messages[{i}]: invalid type, expected struct")
    role = m.get("role")
    if role not in ROLES:
        raise WireError(f"{DESERIALIZE}: messages[{i}]: unknown variant `{role}`, expected one of "
                        "`system`, `user`, `assistant`, `tool`")
    content = m.get("content")
    text_ok = isinstance(content, str) or (isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content))
    if role == "assistant":
        calls = m.get("tool_calls")
        if calls is not None:
            if not isinstance(calls, list) or not calls:
                raise WireError(f"messages[{i}]: tool_calls must be a non-empty list")
            for c in calls:
                fn = c.get("function") if isinstance(c, dict) else None
                if not (isinstance(fn, dict) and isinstance(c.get("id"), str) and c.get("type") == "function"
                        and isinstance(fn.get("name"), str) and isinstance(fn.get("arguments"), str)):
                    raise WireError(f"messages[{i}]: each tool_call needs id, type \"function\" and "
                                    "function {name, arguments (string)}")
                tool_ids.add(c["id"])
        if not (text_ok or (content is None and calls)):
            raise WireError(f"messages[{i}]: assistant content must be a string unless tool_calls are present")
    elif not text_ok:
        raise WireError(f"{DESERIALIZE}: messages[{i}]: `content` must be a string for role `{role}`")
    if role == "tool" and m.get("tool_call_id") not in tool_ids:
        raise WireError(f"messages[{i}]: tool_call_id `{m.get('tool_call_id')}` does not match any preceding "
                        "assistant tool_calls id")


def validate_chat_request(body: Any, models: Container[str],
                          unknown_model: Optional[Callable[[str], WireError]] = None) -> ChatRequest:
    """Check ``body`` like DeepSeek does; raise :class:`WireError` with a specific message."""
    if not isinstance(body, dict):
        raise WireError(f"{DESERIALIZE}: expected a JSON object")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str):
        raise WireError(f"{DESERIALIZE}: missing field `model`")
    if model not in models:
        raise (unknown_model(model) if unknown_model else WireError("Model Not Exist"))
    if not isinstance(messages, list):
        raise WireError(f"{DESERIALIZE}: missing field `messages`")
    if not messages:
        raise WireError("Empty input messages")
    tool_ids: set = set()
    for i, m in enumerate(messages):
        _check_message(i, m, tool_ids)
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str) for t in tools)):
        raise WireError("tools: each tool needs type \"function\" and function.name")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1):
        raise WireError("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise WireError(f"{DESERIALIZE}: stream: invalid type, expected a boolean")
    return ChatRequest(model, messages, tools or None, max_tokens, stream)


@dataclass
class Answer:
    """What the fake says: content or a tool call, optional reasoning, and token counts."""

    content: Optional[str]
    reasoning: Optional[str]
    tool_call: Optional[Dict[str, Any]]
    finish_reason: str
    usage: Dict[str, Any]


def plan_answer(req: ChatRequest) -> Answer:
    """Work out the reply to a validated request (reasoning for models named ``*reasoner*``)."""
    prompt_tokens = sum(count_words(message_text(m.get("content"))) for m in req.messages)
    reasoning = f"Thinking about: {last_user_text(req.messages)}" if "reasoner" in req.model else None
    call = fake_tool_call(req.messages, req.tools)
    if call is not None:
        content, finish, out_words = None, "tool_calls", count_words(call["function"]["arguments"])
    else:
        content, cut = truncate_words(fake_reply(req.messages), req.max_tokens)
        finish, out_words = ("length" if cut else "stop"), count_words(content)
    r_words = count_words(reasoning or "")
    usage: Dict[str, Any] = {"prompt_tokens": prompt_tokens, "completion_tokens": out_words + r_words,
                             "total_tokens": prompt_tokens + out_words + r_words,
                             "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": prompt_tokens}
    if reasoning is not None:
        usage["completion_tokens_details"] = {"reasoning_tokens": r_words}
    return Answer(content, reasoning, call, finish, usage)


def completion_body(req: ChatRequest, ans: Answer, completion_id: str, created: int) -> Dict[str, Any]:
    """A non-streamed ``chat.completion`` object."""
    message: Dict[str, Any] = {"role": "assistant", "content": ans.content}
    if ans.reasoning is not None:
        message["reasoning_content"] = ans.reasoning
    if ans.tool_call is not None:
        message["tool_calls"] = [ans.tool_call]
    return {"id": completion_id, "object": "chat.completion", "created": created, "model": req.model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": ans.finish_reason}],
            "usage": ans.usage, "system_fingerprint": "fp_fake"}


def stream_chunks(req: ChatRequest, ans: Answer, completion_id: str, created: int) -> Iterator[Dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed answer, in order (without ``[DONE]``)."""
    def chunk(delta: Dict[str, Any], finish: Optional[str] = None) -> Dict[str, Any]:
        return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": req.model,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    yield chunk({"role": "assistant", "content": ""})
    for piece in split_pieces(ans.reasoning or ""):
        yield chunk({"content": None, "reasoning_content": piece})
    if ans.tool_call is not None:
        yield chunk({"tool_calls": [{"index": 0, **ans.tool_call}]})
    for piece in split_pieces(ans.content or ""):
        yield chunk({"content": piece})
    last = chunk({"content": ""}, ans.finish_reason)
    last["usage"] = ans.usage
    yield last


def answer_chat_completion(ex: Exchange, models: Container[str], completion_id: str,
                           unknown_model: Optional[Callable[[str], WireError]] = None) -> None:
    """Validate ``ex``'s body and answer it as JSON or as an SSE stream."""
    try:
        req = validate_chat_request(ex.request.json, models, unknown_model)
    except WireError as err:
        return ex.send_json(err.status, err.payload())
    ans, created = plan_answer(req), int(time.time())
    if not req.stream:
        return ex.send_json(200, completion_body(req, ans, completion_id, created))
    ex.start_stream(200, "text/event-stream; charset=utf-8")
    for c in stream_chunks(req, ans, completion_id, created):
        ex.write(b"data: " + json.dumps(c).encode("utf-8") + b"\n\n")
    ex.write(b"data: [DONE]\n\n")
    ex.end_stream()

