"""Request parameters of the fake chat-completions endpoints, checked the way DeepSeek checks them.

With ``deepseek=True`` (the fake DeepSeek) the V4 rules apply (DeepSeek API docs: Thinking Mode,
Create Chat Completion, Models & Pricing):

* ``thinking: {"type": "enabled" | "disabled"}``, **enabled when absent**; ``reasoning_effort`` takes
  ``minimal``/``low``/``medium``/``high``/``xhigh``/``max``/``ultra`` and maps them to ``low``,
  ``high`` or ``max`` (default ``high``);
* in thinking mode ``temperature``, ``top_p`` and the penalties are accepted (range-checked) and have
  no effect, and every tool-call turn must pass its ``reasoning_content`` back;
* ranges: ``max_tokens`` 1..393216, ``temperature`` 0..2, ``top_p`` (0, 1], penalties -2..2,
  ``top_logprobs`` 0..20 and only with ``logprobs: true``.

A value of the wrong type is a 422 (``Failed to deserialize the JSON body ...``); a value out of range,
an unknown model and a broken conversation are 400s.  Without ``deepseek`` (Ollama's OpenAI-compatible
endpoint) only the types and ``max_tokens >= 1`` are checked and nothing thinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Container, Dict, List, Optional

from opensearch_llm.testing._openai_wire import (
    WireError, check_messages, check_reasoning_passback, deserialize_error,
)

#: DeepSeek's largest ``max_tokens`` (384K; ``max_output_tokens`` of both V4 models in ``GET /models``).
MAX_OUTPUT_TOKENS = 393216
#: Requested effort -> the effort DeepSeek actually uses (Thinking Mode guide, mapping table).
EFFORTS = {"minimal": "low", "low": "low", "medium": "high", "high": "high", "xhigh": "high",
           "max": "max", "ultra": "max"}
DEFAULT_EFFORT = "high"
_RANGES = {  # name: (low, high, low inclusive, range text)
    "temperature": (0.0, 2.0, True, "[0, 2]"),
    "top_p": (0.0, 1.0, False, "(0, 1.0]"),
    "presence_penalty": (-2.0, 2.0, True, "[-2, 2]"),
    "frequency_penalty": (-2.0, 2.0, True, "[-2, 2]"),
}


@dataclass
class ChatRequest:
    """A validated chat-completions request (unknown fields ignored)."""

    model: str
    messages: List[Dict[str, Any]]
    tools: Optional[List[Dict[str, Any]]] = None
    max_tokens: Optional[int] = None
    stream: bool = False
    thinking: bool = False
    effort: Optional[str] = None          # the mapped effort (low/high/max) when thinking
    logprobs: bool = False
    top_logprobs: int = 0
    include_usage: bool = False


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return f"boolean `{str(value).lower()}`"
    if isinstance(value, str):
        return f"string \"{value}\""
    if value is None:
        return "null"
    return type(value).__name__


def _int(body: Dict[str, Any], name: str, kind: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise deserialize_error(f"{name}: invalid type: {_type_name(value)}, expected {kind}")
    return value


def _number(body: Dict[str, Any], name: str) -> Optional[float]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise deserialize_error(f"{name}: invalid type: {_type_name(value)}, expected f32")
    return float(value)


def _bool(body: Dict[str, Any], name: str) -> bool:
    value = body.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise deserialize_error(f"{name}: invalid type: {_type_name(value)}, expected a boolean")
    return value


def _thinking(body: Dict[str, Any]) -> bool:
    raw = body.get("thinking")
    if raw is None:
        return True
    if not isinstance(raw, dict):
        raise deserialize_error(f"thinking: invalid type: {_type_name(raw)}, expected struct Thinking")
    if raw.get("type") not in ("enabled", "disabled"):
        raise deserialize_error(f"thinking.type: unknown variant `{raw.get('type')}`, expected `enabled` or `disabled`")
    return raw["type"] == "enabled"


def _effort(body: Dict[str, Any]) -> str:
    raw = body.get("reasoning_effort")
    if raw is None:
        return DEFAULT_EFFORT
    if raw not in EFFORTS:
        expected = ", ".join(f"`{e}`" for e in EFFORTS)
        shown = f"`{raw}`" if isinstance(raw, str) else _type_name(raw)
        raise deserialize_error(f"reasoning_effort: unknown variant {shown}, expected one of {expected}")
    return EFFORTS[raw]


def _ranges(body: Dict[str, Any], max_output: int) -> None:
    max_tokens = _int(body, "max_tokens", "u32")
    if max_tokens is not None and not 1 <= max_tokens <= max_output:
        raise WireError(f"Invalid max_tokens value, the valid range of max_tokens is [1, {max_output}]")
    for name, (low, high, inclusive, text) in _RANGES.items():
        value = _number(body, name)
        if value is not None and not ((low <= value if inclusive else low < value) and value <= high):
            raise WireError(f"Invalid {name} value, the valid range of {name} is {text}")


def _logprobs(body: Dict[str, Any]) -> int:
    wanted = _bool(body, "logprobs")
    top = body.get("top_logprobs")
    if top is None:
        return 0
    if isinstance(top, int) and not isinstance(top, bool) and top < 0:
        raise deserialize_error(f"top_logprobs: invalid value: integer `{top}`, expected u8")
    top = _int(body, "top_logprobs", "u8")
    if not wanted:
        raise WireError("Invalid top_logprobs and logprobs value, logprobs must be set to true if top_logprobs is used.")
    if top is not None and top > 20:
        raise WireError("Invalid top_logprobs value, the valid range of top_logprobs is [0, 20].")
    return top or 0


def _include_usage(body: Dict[str, Any]) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not isinstance(options, dict):
        raise deserialize_error(f"stream_options: invalid type: {_type_name(options)}, expected struct StreamOptions")
    return _bool(options, "include_usage")


def _tools(body: Dict[str, Any]) -> Optional[List[Dict[str, Any]]]:
    tools = body.get("tools")
    if tools is not None and (not isinstance(tools, list) or not all(
            isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
            and isinstance(t["function"].get("name"), str) for t in tools)):
        raise WireError("tools: each tool needs type \"function\" and function.name")
    return tools or None


def supported_names_error(listed: List[str]) -> Callable[[str], WireError]:
    """DeepSeek's 400 for a model it does not serve (retired names included)."""
    if len(listed) > 2:
        names = ", ".join(listed[:-1]) + ", and " + listed[-1]
    else:
        names = " or ".join(listed)
    return lambda model: WireError(f"The supported API model names are {names}, but you passed {model}.")


def validate_chat_request(body: Any, models: Container[str],
                          unknown_model: Optional[Callable[[str], WireError]] = None, *,
                          deepseek: bool = False, max_output: int = MAX_OUTPUT_TOKENS) -> ChatRequest:
    """Check ``body`` like the provider does; raise :class:`WireError` with a specific message."""
    if not isinstance(body, dict):
        raise deserialize_error("invalid type: expected struct ChatCompletionRequest")
    model = body.get("model")
    if not isinstance(model, str):
        raise deserialize_error("missing field `model`")
    thinking = _thinking(body) if deepseek else False
    effort = _effort(body) if deepseek else None
    stream = _bool(body, "stream")
    include_usage = _include_usage(body)
    if model not in models:
        raise (unknown_model(model) if unknown_model else WireError("Model Not Exist"))
    messages = check_messages(body.get("messages"))
    tools = _tools(body)
    if deepseek:
        _ranges(body, max_output)
        top = _logprobs(body)
        if thinking:
            check_reasoning_passback(messages)
    else:
        max_tokens = _int(body, "max_tokens", "u32")
        if max_tokens is not None and max_tokens < 1:
            raise WireError("Invalid max_tokens value, the valid range of max_tokens is [1, 8192]")
        top = _logprobs(body)
    return ChatRequest(model, messages, tools, body.get("max_tokens"), stream, thinking,
                       effort if thinking else None, _bool(body, "logprobs"), top, include_usage)
