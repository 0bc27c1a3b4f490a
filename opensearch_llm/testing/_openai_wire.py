"""OpenAI / DeepSeek chat-completions wire format for the fakes: errors, the reply rule, message checks.

Reply rule (shared by every fake, see :func:`fake_reply`):

* last message has role ``tool``          -> ``"Tool said: <its content>"``
* an ML Commons RAG prompt                -> ``"From the search results: <SEARCH RESULT 1>"`` (or
  ``"No search results."``), plus ``" Earlier you asked: <first earlier question>"`` with history
* last user message contains ``pong``     -> ``"pong"`` (case-insensitive substring)
* otherwise                               -> ``"Echo: <last user content>"``

A last user message holding a conversational agent's chat history is answered
``"<pong or Echo: rule applied to the new question> Earlier you asked: <first earlier question>"``.
Both ML Commons prompt shapes are described in :mod:`~opensearch_llm.testing._ml_prompts`.

With ``tools`` in the request and ``weather`` in the last (user) message the answer is a tool
call instead (:func:`fake_tool_call`).  Token counts are whitespace word counts.

Request parameters are checked in :mod:`~opensearch_llm.testing._openai_params`; answers are
built in :mod:`~opensearch_llm.testing._openai_answer`.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple

from opensearch_llm.testing._ml_prompts import EARLIER, agent_turn, rag_reply, text_parts

ROLES = ("system", "user", "assistant", "tool")
DESERIALIZE = "Failed to deserialize the JSON body into the target type"
#: DeepSeek's answer when a thinking-mode tool-call turn comes back without its reasoning_content.
PASSBACK = "The `reasoning_content` in the thinking mode must be passed back to the API."


class WireError(Exception):
    """A request the provider would refuse; ``payload()`` is the OpenAI error body."""

    def __init__(self, message: str, status: int = 400, type_: str = "invalid_request_error",
                 code: Optional[str] = "invalid_request_error") -> None:
        super().__init__(message)
        self.message, self.status, self.type, self.code = message, status, type_, code

    def payload(self) -> Dict[str, Any]:
        """``{"error": {"message", "type", "param", "code"}}``."""
        return openai_error(self.message, self.type, self.code)


def deserialize_error(detail: str) -> WireError:
    """422: the body is JSON but does not fit the request type (DeepSeek's serde wording)."""
    return WireError(f"{DESERIALIZE}: {detail}", status=422)


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
    return "".join(text_parts(content))


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
    rag = rag_reply(messages)
    if rag is not None:
        return rag
    text = last_user_text(messages)
    turn = agent_turn(text)
    if turn is not None:
        question, first_asked = turn
        return f"{_plain_reply(question)}{EARLIER}{first_asked}"
    return _plain_reply(text)


def _plain_reply(text: str) -> str:
    return "pong" if "pong" in text.lower() else f"Echo: {text}"


def fake_reasoning(messages: List[Dict[str, Any]]) -> str:
    """The deterministic chain of thought: ``"Thinking about: <last user message>"``."""
    return f"Thinking about: {last_user_text(messages)}"


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


def _check_message(i: int, m: Any, tool_ids: set) -> None:
    if not isinstance(m, dict):
        raise deserialize_error(f"messages[{i}]: invalid type, expected struct")
    role = m.get("role")
    if role not in ROLES:
        raise deserialize_error(f"messages[{i}]: unknown variant `{role}`, expected one of "
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
        reasoning = m.get("reasoning_content")
        if reasoning is not None and not isinstance(reasoning, str):
            raise deserialize_error(f"messages[{i}].reasoning_content: invalid type, expected a string")
    elif not text_ok:
        raise deserialize_error(f"messages[{i}]: `content` must be a string for role `{role}`")
    if role == "tool" and m.get("tool_call_id") not in tool_ids:
        raise WireError(f"messages[{i}]: tool_call_id `{m.get('tool_call_id')}` does not match any preceding "
                        "assistant tool_calls id")


def check_messages(messages: Any) -> List[Dict[str, Any]]:
    """Roles, contents, tool calls and tool answers, like DeepSeek checks them."""
    if not isinstance(messages, list):
        raise deserialize_error("missing field `messages`")
    if not messages:
        raise WireError("Empty input messages")
    tool_ids: set = set()
    for i, m in enumerate(messages):
        _check_message(i, m, tool_ids)
    return messages


def user_turns(messages: Sequence[Dict[str, Any]]) -> List[List[Dict[str, Any]]]:
    """The assistant messages between consecutive ``user`` messages (the last group may be open)."""
    groups: List[List[Dict[str, Any]]] = [[]]
    for m in messages:
        if m.get("role") == "user":
            groups.append([])
        elif m.get("role") == "assistant":
            groups[-1].append(m)
    return [g for g in groups if g]


def check_reasoning_passback(messages: Sequence[Dict[str, Any]]) -> None:
    """Thinking mode: between two user messages that saw a tool call, every assistant message must carry
    its ``reasoning_content`` (any string); elsewhere it may be left out (and is ignored if sent)."""
    for group in user_turns(messages):
        if any(m.get("tool_calls") for m in group) and not all(
                isinstance(m.get("reasoning_content"), str) for m in group):
            raise WireError(PASSBACK)
