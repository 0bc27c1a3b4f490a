"""Drift: what the live connector, model and consumers hold that the blueprint does not say (a hand edit).

Pure: the live documents in, one :class:`Drift` per differing field out. Only what ML Commons stores as sent is
compared, so that defaults the cluster fills in, masked credentials and key order never show as drift:

- connector: every parameter (as strings, the way ML Commons keeps them; an added or removed one counts), each
  action's method, URL, headers, request body and pre/post-process functions (matched by action type, which
  ML Commons upper-cases), and the ``client_config`` keys the blueprint sets (the cluster fills the others in);
  credentials are never compared (ML Commons does not return them);
- model: ``rate_limiter`` (also one set by hand where the blueprint has none), and ``guardrails``,
  ``interface``, ``deploy_setting`` where the blueprint sets them, ``is_enabled`` when it is false;
- search and ingest pipelines: the processors, compared with what ``up`` would write for this model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from opensearch_llm.secrets import Secret, mask_text, masked

OUTSIDE = "changed outside opensearch-llm"


@dataclass(frozen=True)
class Drift:
    """One field whose live value is not what the blueprint says."""

    path: str
    live: Any
    wanted: Any

    def text(self) -> str:
        """``connector.parameters.max_tokens: "16" → "4096" (changed outside opensearch-llm)``"""
        return f"{self.path}: {_show(self.live)} → {_show(self.wanted)} ({OUTSIDE})"


def _show(value: Any) -> str:
    # the live side is masked too: a secret the blueprint put in a parameter comes back in plain text
    return "(none)" if value is None else mask_text(json.dumps(masked(value), sort_keys=True, default=str))


def _norm(value: Any) -> Any:
    """Numbers and booleans as ML Commons returns them (strings in parameters and rate limiters)."""
    if isinstance(value, Secret):
        return value.reveal()  # compared by value, never shown (see _show)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _compare(path: str, live: Any, wanted: Any) -> list[Drift]:
    return [] if _norm(live) == _norm(wanted) else [Drift(path, live, wanted)]


def connector_drift(body: dict, live: dict) -> list[Drift]:
    """The connector fields whose live value differs from the rendered blueprint ``body``."""
    found: list[Drift] = []
    wanted_params = body.get("parameters") or {}
    live_params = live.get("parameters") or {}
    for key in sorted(set(wanted_params) | set(live_params)):
        found += _compare(f"connector.parameters.{key}", live_params.get(key), wanted_params.get(key))
    live_actions = {str(a.get("action_type", "")).lower(): a for a in live.get("actions") or []}
    for action in body.get("actions") or []:
        kind = str(action.get("action_type", "")).lower()
        mine = live_actions.get(kind, {})
        for key in ("method", "url", "headers", "request_body", "pre_process_function", "post_process_function"):
            if key in action or key in mine:
                found += _compare(f"connector.actions.{kind}.{key}", mine.get(key), action.get(key))
    live_config = live.get("client_config") or {}
    for key, value in sorted((body.get("client_config") or {}).items()):
        found += _compare(f"connector.client_config.{key}", live_config.get(key), value)
    return found


def model_drift(extra: dict, live: dict) -> list[Drift]:
    """The Update Model fields whose live value differs from the blueprint's model section (``extra``)."""
    found = _compare("model.rate_limiter", live.get("rate_limiter"), extra.get("rate_limiter"))
    for key in ("guardrails", "interface", "deploy_setting"):
        if key in extra:
            found += _compare(f"model.{key}", live.get(key), extra[key])
    wanted_enabled = extra.get("is_enabled", True)
    if live.get("is_enabled", True) is False or "is_enabled" in extra:
        found += _compare("model.is_enabled", live.get("is_enabled", True), wanted_enabled)
    return found


def pipeline_drift(kind: str, processors: Iterable[dict], live: Optional[dict]) -> list[Drift]:
    """A search or ingest pipeline whose processors are not what ``up`` would write."""
    key = "response_processors" if kind == "search_pipeline" else "processors"
    return _compare(f"{kind}.{key}", (live or {}).get(key), list(processors))


def fixable_in_place(drift: Iterable[Drift]) -> bool:
    """False when Update Model cannot undo it: ML Commons keeps a rate limiter once set (an empty one is ignored,
    ``null`` refused), so one set by hand where the blueprint has none needs the blueprint to adopt it."""
    return not any(d.path == "model.rate_limiter" and d.wanted is None for d in drift)
