"""Fault rules and request records of :mod:`opensearch_llm.testing.fault_proxy`."""

from __future__ import annotations

import http.client
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "trailers", "upgrade"})
UPSTREAM_ERRORS = (OSError, http.client.HTTPException)
Reply = Tuple[int, str, List[Tuple[str, str]], bytes]


def hop(name: str) -> bool:
    name = name.lower()
    return name in HOP_BY_HOP or name.startswith("proxy-")


def default_error(status: int) -> Dict[str, Any]:
    """The OpenSearch-shaped error body an injected ``status`` answers with by default."""
    cause = {"type": "fault_injected", "reason": f"injected {status}"}
    return {"error": {"root_cause": [dict(cause)], **cause}, "status": status}


@dataclass
class Rule:
    """One fault.  Matches on ``method`` (None or ``*``: any) and ``path`` (regex searched in path+query).

    ``reset`` or ``status`` (+ ``body``/``headers``) answer instead of forwarding, or after
    forwarding when ``after_upstream``; ``respond_json`` rewrites the forwarded JSON answer;
    ``delay`` sleeps first (a delay-only rule forwards afterwards); with ``after_upstream`` and no
    status it forwards at once and delays only the answer (a slow server, not a late request).  ``rate`` is the chance a
    matching request is hit, ``count`` caps the hits; ``applied`` counts them.
    """

    method: Optional[str] = None
    path: Optional[str] = None
    status: Optional[int] = None
    body: Union[Dict[str, Any], str, None] = None
    headers: Optional[Dict[str, str]] = None
    reset: bool = False
    delay: float = 0.0
    rate: float = 1.0
    count: Optional[int] = None
    after_upstream: bool = False
    respond_json: Optional[Callable[[Any], Any]] = None
    applied: int = field(default=0, compare=False)

    def matches(self, method: str, path: str) -> bool:
        """True when ``method`` and ``path`` are in scope (ignores rate and count)."""
        if self.method is not None and self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass(frozen=True)
class ProxyRecord:
    """One request the proxy saw: ``status`` is None for a reset; ``rule`` is the matching rule's index."""

    method: str
    path: str
    status: Optional[int]
    injected: bool
    rule: Optional[int]
    time: float
    body: bytes = b""  # the request body as the client sent it

    def json(self) -> Any:
        """The request body parsed as JSON (None when it is not)."""
        import json

        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None


def parse_rule(spec: str) -> Rule:
    """Parse ``METHOD:PATHREGEX:STATUS[:RATE]`` (``*`` = any method, STATUS ``reset`` = reset)."""
    parts = spec.split(":")
    if len(parts) < 3:
        raise ValueError(f"rule {spec!r} is not METHOD:PATHREGEX:STATUS[:RATE]")
    rate = 1.0
    if len(parts) >= 4 and re.fullmatch(r"\d+|reset", parts[-2]) and re.fullmatch(r"[\d.]+", parts[-1]):
        rate, parts = float(parts[-1]), parts[:-1]
    method, path, status = parts[0], ":".join(parts[1:-1]), parts[-1]
    if status != "reset" and not status.isdigit():
        raise ValueError(f"rule {spec!r}: status must be a number or 'reset'")
    return Rule(method=None if method in ("", "*") else method.upper(), path=path or None,
                status=None if status == "reset" else int(status), reset=status == "reset", rate=rate)
