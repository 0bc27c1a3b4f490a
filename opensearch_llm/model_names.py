"""What providers call their models: retired names, legacy names still answered, and the nearest match.

Used by :mod:`opensearch_llm.preflight` to judge a model listing.  The tables are provider knowledge
that ages: add a row when a provider retires or renames a model.
"""

from __future__ import annotations

import difflib
from typing import Dict, NamedTuple, Optional, Sequence

SHOWN_OFFERED = 20


class Retirement(NamedTuple):
    """A model name the provider retired: when, and what replaced it."""

    date: str
    successor: str


# Names providers have retired; the date goes into the refusal, the successor is the nearest match.
# DeepSeek: deepseek-chat / deepseek-reasoner were V4-Flash aliases until 2026-07-24 15:59 UTC
# (DeepSeek's V4 announcement and Models & Pricing page, https://api-docs.deepseek.com/quick_start/pricing).
RETIRED: Dict[str, Retirement] = {
    "deepseek-chat": Retirement("2026-07-24", "deepseek-v4-flash"),
    "deepseek-reasoner": Retirement("2026-07-24", "deepseek-v4-flash"),
}

# Names a provider still answers but no longer lists, and the listed id that serves them. Such a name
# passes the preflight with a warning instead of a refusal.
# DeepSeek: deepseek-v4-flash is answered by deepseek-flash (DeepSeek-V4.1-Flash) where that is listed.
LEGACY: Dict[str, str] = {
    "deepseek-v4-flash": "deepseek-flash",
}


def is_offered(model: str, offered: Sequence[str]) -> bool:
    """True when ``model`` is in ``offered``; a name without a tag also matches ``name:latest`` (Ollama)."""
    return model in offered or _tagged(model) in {_tagged(o) for o in offered}


def _tagged(name: str) -> str:
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def served_by(model: str, offered: Sequence[str]) -> Optional[str]:
    """The listed id that answers ``model``, a legacy name the provider no longer lists; else None."""
    target = LEGACY.get(model)
    return target if target is not None and is_offered(target, offered) else None


def nearest(model: str, offered: Sequence[str]) -> Optional[str]:
    """The offered id closest to ``model``: a retired name's successor (or what serves it), else the closest
    spelling."""
    retired = RETIRED.get(model)
    if retired is not None:
        if is_offered(retired.successor, offered):
            return retired.successor
        if served_by(retired.successor, offered):
            return served_by(retired.successor, offered)
    close = difflib.get_close_matches(model, list(offered), n=1, cutoff=0.5)
    return close[0] if close else None


def not_offered_message(model: str, provider: str, offered: Sequence[str]) -> str:
    """"`deepseek-chat` is not offered by https://api.deepseek.com (retired 2026-07-24); offered: ..."."""
    retired = RETIRED.get(model)
    text = f"`{model}` is not offered by {provider}"
    if retired is not None:
        text += f" (retired {retired.date})"
    shown = ", ".join(offered[:SHOWN_OFFERED]) or "none"
    if len(offered) > SHOWN_OFFERED:
        shown += f", ... ({len(offered) - SHOWN_OFFERED} more)"
    text += f"; offered: {shown}"
    match = nearest(model, offered)
    return text + (f"; nearest match: {match}" if match else "")
