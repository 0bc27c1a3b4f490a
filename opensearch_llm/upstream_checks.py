"""Checks made from this machine, with no cluster: does the upstream answer, does the preflight pass.

Each answer is a :class:`Check`, one row of ``doctor``'s table.
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional
from urllib.parse import urlsplit

from opensearch_llm.blueprint.endpoints import endpoint_urls
from opensearch_llm.errors import short_cause
from opensearch_llm.resources import settings
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

_BASE_ENV = re.compile(r"base_url:\s*[\"']?\$\{env:([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Check:
    """One check: what was checked, whether it passed, what was seen, and how to fix a failure."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    warn: bool = False  # passed, but with a warning (shown as WARN)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def is_ollama(blueprint: "Blueprint") -> bool:
    """True for blueprints that talk to an Ollama host (an ``ollama:`` section or an ``/api/`` endpoint)."""
    return blueprint.ollama is not None or any(
        urlsplit(u).path.startswith("/api/") for u in endpoint_urls(blueprint.connector.body))


def upstream_base(blueprint: "Blueprint") -> str:
    """The upstream's base URL: the ``base_url`` parameter, else the first endpoint's scheme and host."""
    base = blueprint.connector.parameters.get("base_url")
    if isinstance(base, str) and base.startswith(("http://", "https://")):
        return base.rstrip("/")
    return settings.origin((endpoint_urls(blueprint.connector.body) or [""])[0])


def _base_variable(blueprint: "Blueprint") -> Optional[str]:
    try:
        m = _BASE_ENV.search(Path(blueprint.source).read_text(encoding="utf-8"))
    except OSError:
        return None
    return m[1] if m else None


def upstream_check(blueprint: "Blueprint", timeout: float = 3.0) -> Check:
    """GET the upstream (no credentials sent); any HTTP answer passes, a connection error or timeout fails."""
    import requests

    ollama = is_ollama(blueprint)
    url = upstream_base(blueprint) + ("/api/version" if ollama else "/models")
    name = f"{blueprint.name}: upstream"
    started = time.perf_counter()
    try:
        response = requests.get(url, timeout=timeout, allow_redirects=False)
    except requests.RequestException as exc:
        var = _base_variable(blueprint)
        where = f"set {var} to a running endpoint" if var else "--set connector.parameters.base_url=URL"
        fix = ("start Ollama (ollama serve) or " if ollama else "start the server or ") + where
        return Check(name, False, mask_text(f"GET {url} failed: {type(exc).__name__}: {short_cause(str(exc))}"), fix)
    ms = (time.perf_counter() - started) * 1000
    extra = ""
    if ollama and response.ok:
        try:
            extra = f", Ollama {response.json().get('version', '?')}"
        except ValueError:
            extra = ""
    return Check(name, True, mask_text(f"GET {url} -> HTTP {response.status_code} in {ms:.0f} ms{extra} "
                                       "(from this machine)"))


def preflight_check(blueprint: "Blueprint", timeout: float = 3.0) -> Check:
    """The preflight (key accepted, model offered) as a row: FAIL on a refusal, WARN when it could not ask."""
    from opensearch_llm.errors import PreflightRefused
    from opensearch_llm.preflight import preflight

    name = f"{blueprint.name}: preflight"
    try:
        report = preflight(blueprint, timeout=timeout, warn=lambda _message: None)
    except PreflightRefused as exc:
        return Check(name, False, mask_text(exc.message), mask_text(exc.hint or ""))
    if report.status == "ok":
        return Check(name, True, f"{report.provider} accepts the key and offers {report.model} "
                                 f"({len(report.offered)} model(s) listed)")
    detail = f"skipped: {report.reason}" if report.status == "skipped" else report.reason
    return Check(name, True, mask_text(detail), warn=report.warned)
