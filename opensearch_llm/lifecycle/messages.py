"""Conversation input for ``_predict``: a history of messages in the provider's chat format, and
generation parameters (temperature, top_p, max_tokens) routed to where the blueprint's request body
takes them.

History files are a JSON list of messages (or ``{"messages": [...]}``).  Roles are ``system``,
``user``, ``assistant``, ``tool`` and ``tool_result`` (an alias of ``tool``).  Assistant messages may
carry ``tool_calls`` in the OpenAI shape, the Ollama shape (``arguments`` as an object) or a flat
``{"id", "name", "arguments"}`` shape; tool messages answer one of them through ``tool_call_id``.

Assistant messages may carry ``reasoning_content`` (a thinking model's chain of thought).  It is sent back
the way DeepSeek's Thinking Mode guide asks: between two user messages where the model called a tool,
every assistant message keeps it (DeepSeek answers 400 without it, in every later request); where it
did not, it is dropped (DeepSeek ignores it there).  Ollama gets it as the message's ``thinking``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

from opensearch_llm.errors import InvalidInputError

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

ROLES = ("system", "user", "assistant", "tool", "tool_result")
OLLAMA_PATHS = ("/api/chat", "/api/generate")
#: What a generation parameter is called in Ollama's ``options``.
OLLAMA_ALIASES = {"max_tokens": "num_predict", "max_completion_tokens": "num_predict"}
#: Ollama's model options (``options`` of /api/chat and /api/generate).
OLLAMA_OPTIONS = frozenset({
    "num_keep", "seed", "num_predict", "top_k", "top_p", "min_p", "typical_p", "repeat_last_n", "temperature",
    "repeat_penalty", "presence_penalty", "frequency_penalty", "stop", "num_ctx", "num_batch", "num_gpu",
    "main_gpu", "use_mmap", "num_thread",
})
_PARAM = re.compile(r"\$\{parameters\.([^}:]+)")


def _bad(message: str) -> InvalidInputError:
    return InvalidInputError(message, hint="see the history format in docs/blueprints.md")


def dialect(blueprint: "Blueprint") -> str:
    """``"ollama"`` for a connector on Ollama's native API (``/api/chat``, ``/api/generate``), else ``"openai"``."""
    url = str(blueprint.connector.predict_action.get("url", ""))
    return "ollama" if url.split("?")[0].rstrip("/").endswith(OLLAMA_PATHS) else "openai"


def load_history(path: Union[str, Path]) -> List[Dict[str, Any]]:
    """The messages in a history file (a JSON list, or an object with ``messages``); exit 2 when unusable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise _bad(f"cannot read history file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _bad(f"history file {path} is not JSON: {exc}") from None
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        data = data["messages"]
    if not isinstance(data, list):
        raise _bad(f"history file {path} must hold a JSON list of messages")
    return data


def _text(content: Any) -> Optional[str]:
    if content is None or isinstance(content, str):
        return content
    return json.dumps(content, ensure_ascii=False)


def _user_content(content: Any) -> Any:
    parts = isinstance(content, list) and all(isinstance(p, dict) and "type" in p for p in content)
    return content if parts else _text(content) or ""


def _tool_call(i: int, j: int, call: Any) -> Dict[str, Any]:
    if not isinstance(call, dict):
        raise _bad(f"history[{i}].tool_calls[{j}] must be an object")
    fn = call.get("function") if isinstance(call.get("function"), dict) else call
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise _bad(f"history[{i}].tool_calls[{j}] has no function name")
    args = fn.get("arguments", fn.get("input", {}))
    call_id = call.get("id") or f"call_{i}_{j}"
    return {"id": str(call_id), "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}


def to_openai_messages(history: Sequence[Any]) -> List[Dict[str, Any]]:
    """``history`` in the OpenAI chat format: ``tool_result`` becomes ``tool``, tool content a string,
    assistant content null when it only calls tools, every tool message answers an earlier call, and
    ``reasoning_content`` kept only in user turns with tool calls (see the module docstring)."""
    out: List[Dict[str, Any]] = []
    pending: Dict[str, str] = {}
    for i, msg in enumerate(history):
        if not isinstance(msg, dict):
            raise _bad(f"history[{i}] must be an object with role and content")
        role = msg.get("role")
        if role not in ROLES:
            raise _bad(f"history[{i}]: unknown role {role!r} (use {', '.join(ROLES)})")
        content = msg.get("content")
        if role == "assistant" and msg.get("tool_calls"):
            calls = msg["tool_calls"]
            if not isinstance(calls, list):
                raise _bad(f"history[{i}].tool_calls must be a list")
            converted = [_tool_call(i, j, c) for j, c in enumerate(calls)]
            pending.update({c["id"]: c["function"]["name"] for c in converted})
            out.append({"role": "assistant", "content": _text(content) or None, "tool_calls": converted})
        elif role in ("tool", "tool_result"):
            out.append(_tool_message(i, msg, pending))
        elif role in ("system", "assistant"):
            out.append({"role": role, "content": _text(content) or ""})
        else:
            out.append({"role": "user", "content": _user_content(content)})
        if msg.get("name") and role in ("user", "assistant", "system"):
            out[-1]["name"] = str(msg["name"])
        if role == "assistant" and msg.get("reasoning_content") is not None:
            if not isinstance(msg["reasoning_content"], str):
                raise _bad(f"history[{i}].reasoning_content must be a string")
            out[-1]["reasoning_content"] = msg["reasoning_content"]
    return _reasoning_where_required(out)


def _reasoning_where_required(messages: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Drop ``reasoning_content`` from the user turns (assistant messages between two user messages)
    without a tool call; keep it in the others."""
    turn: List[Dict[str, Any]] = []
    for m in messages + [{"role": "user"}]:
        if m.get("role") == "user":
            if not any(a.get("tool_calls") for a in turn):
                for a in turn:
                    a.pop("reasoning_content", None)
            turn = []
        elif m.get("role") == "assistant":
            turn.append(m)
    return messages


def assistant_message(text: Optional[str], tool_calls: Optional[List[Any]] = None,
                      reasoning: Optional[str] = None) -> Dict[str, Any]:
    """The history entry of one answer (a ``PredictResult``'s ``text``, ``tool_calls`` and ``reasoning``).

    ``content`` is null when the model only called tools; ``reasoning_content`` is kept in the history,
    and :func:`to_openai_messages` sends it back only where DeepSeek requires it (tool-call turns).
    """
    answer: Dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        answer["tool_calls"] = tool_calls
    if isinstance(reasoning, str):
        answer["reasoning_content"] = reasoning
    return answer


def _tool_message(i: int, msg: Dict[str, Any], pending: Dict[str, str]) -> Dict[str, Any]:
    call_id = msg.get("tool_call_id") or msg.get("tool_use_id")
    if not call_id and len(pending) == 1:
        call_id = next(iter(pending))
    if not call_id:
        raise _bad(f"history[{i}]: a {msg['role']} message needs tool_call_id")
    if str(call_id) not in pending:
        raise _bad(f"history[{i}]: tool_call_id {call_id!r} answers no earlier assistant tool call")
    pending.pop(str(call_id))
    return {"role": "tool", "tool_call_id": str(call_id), "content": _text(msg.get("content")) or ""}


def to_ollama_messages(messages: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """OpenAI-format ``messages`` for Ollama's ``/api/chat``: tool arguments as objects, ``tool_name`` set."""
    out: List[Dict[str, Any]] = []
    names: Dict[str, str] = {}
    for m in messages:
        m = dict(m)
        if m.get("tool_calls"):
            names.update({c["id"]: c["function"]["name"] for c in m["tool_calls"]})
            m["content"] = m.get("content") or ""
            m["tool_calls"] = [{"function": {"name": c["function"]["name"],
                                             "arguments": _object(c["function"]["arguments"])}}
                               for c in m["tool_calls"]]
        if m.get("role") == "tool":
            m["tool_name"] = names.get(str(m.get("tool_call_id")), "")
        if "reasoning_content" in m:
            m["thinking"] = m.pop("reasoning_content")
        out.append(m)
    return out


def _object(arguments: str) -> Any:
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def body_parameters(blueprint: "Blueprint") -> Tuple[str, ...]:
    """The ``${parameters.x}`` names the predict action's request body uses."""
    body = str(blueprint.connector.predict_action.get("request_body") or "")
    return tuple(dict.fromkeys(_PARAM.findall(body)))


def route_parameters(blueprint: "Blueprint",
                     params: Optional[Dict[str, Any]]) -> Tuple[Dict[str, Any], List[str]]:
    """``params`` placed where the request body reads them, and the names that reach nothing.

    A name the body uses is sent as is.  When the body takes Ollama ``options``, ``temperature``,
    ``top_p``, ``max_tokens`` (as ``num_predict``) and the other Ollama options are merged into the
    connector's default ``options``.  Anything else is sent too (a pre-process function may read it)
    but is reported back as unused.
    """
    used = set(body_parameters(blueprint))
    out: Dict[str, Any] = {}
    options: Dict[str, Any] = {}
    unused: List[str] = []
    for key, value in (params or {}).items():
        option = OLLAMA_ALIASES.get(key, key)
        if key in used:
            out[key] = value
        elif "options" in used and option in OLLAMA_OPTIONS:
            options[option] = value
        else:
            out[key] = value
            unused.append(key)
    if options:
        base = out.get("options", blueprint.connector.parameters.get("options", {}))
        if isinstance(base, str):
            base = _object(base) if base.strip() else {}
        out["options"] = {**(base if isinstance(base, dict) else {}), **options}
    return out, unused
