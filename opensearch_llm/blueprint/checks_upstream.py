"""Semantic checks of what a blueprint says about its provider: the preflight section (and where it may
send the credential) and DeepSeek's reasoning effort."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from opensearch_llm.blueprint.source import Locator
from opensearch_llm.errors import Problem

CRED_REF = re.compile(r"\$\{credential\.([^}]+)\}")


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}

def _endpoint(url: str) -> Optional[Tuple[str, str, int]]:
    """``url``'s scheme, host and port (the scheme's default port filled in); None while it is not a full URL."""
    parts = urlsplit(url.strip())
    try:
        port = parts.port
    except ValueError:
        return None
    if "${" in url or parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or (443 if parts.scheme == "https" else 80)


def credential_destination(data: Dict[str, Any], loc: Locator, raw: Dict[str, Any]) -> List[Problem]:
    """A preflight that sends a ``${credential.*}`` (headers or URL) must GET a host the connector's actions call.

    The URLs are compared by scheme, host and port after ``${parameters.x}`` is filled in the way ML Commons
    fills an action URL (:func:`opensearch_llm.blueprint.endpoints.endpoint_urls`).
    """
    from opensearch_llm.blueprint.endpoints import endpoint_urls

    connector = _dict(data.get("connector"))
    actions = [a for a in connector["actions"] if isinstance(a, dict)] \
        if isinstance(connector.get("actions"), list) else []
    if isinstance(raw.get("headers"), dict):
        headers = raw["headers"]
    else:  # the default: the predict action's headers
        headers = _dict(next((a for a in actions if a.get("action_type") == "predict"), {}).get("headers"))
    sent = [v for v in headers.values() if isinstance(v, str)] + [raw["url"]]
    if not any(CRED_REF.search(text) for text in sent):
        return []
    params = _dict(connector.get("parameters"))
    body = {"parameters": params, "actions": [{"url": a["url"]} for a in actions if isinstance(a.get("url"), str)]}
    allowed = {e: None for e in map(_endpoint, endpoint_urls(body)) if e}
    target = _endpoint(endpoint_urls({"parameters": params, "actions": [{"url": CRED_REF.sub("x", raw["url"])}]})[0])
    if target is None or not allowed or target in allowed:
        return []
    called = ", ".join(_shown(e) for e in allowed)
    return [loc.problem(("preflight", "url"),
                        f"the preflight would send the connector's credential to {_shown(target)}, which none of "
                        f"the connector's actions calls ({called}): point preflight.url at the provider the "
                        "actions call, or give preflight.headers without ${credential.*}")]


def _shown(endpoint: Tuple[str, str, int]) -> str:
    return "%s://%s:%d" % endpoint


#: DeepSeek's thinking-effort levels (Thinking Mode guide: reasoning_effort "low/high/max").
DEEPSEEK_EFFORTS = ("low", "high", "max")


def check_reasoning_effort(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """A DeepSeek thinking body (``"thinking"`` and ``${parameters.reasoning_effort}``) takes low, high or max."""
    connector = _dict(data.get("connector"))
    effort = _dict(connector.get("parameters")).get("reasoning_effort")
    actions = connector.get("actions") if isinstance(connector.get("actions"), list) else []
    uses = any(isinstance(a, dict) and isinstance(a.get("request_body"), str) and '"thinking"' in a["request_body"]
               and "${parameters.reasoning_effort}" in a["request_body"] for a in actions)
    if not uses or not isinstance(effort, str) or "${env:" in effort or effort in DEEPSEEK_EFFORTS:
        return []
    return [loc.problem(("connector", "parameters", "reasoning_effort"),
                        f"reasoning_effort {effort!r} is not one of {', '.join(DEEPSEEK_EFFORTS)} "
                        "(DeepSeek's thinking levels)")]
