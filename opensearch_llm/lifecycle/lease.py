"""A run's lease: until when its resources count as in progress, and on which host it runs.

Every resource a run creates carries ``lease:<UTC time> host:<name>`` in its ownership marker. Until the
lease ends, ``sweep`` (from any machine) leaves the run alone unless this machine's journal shows the run's
process is gone, and an ``up`` of the same blueprint waits for the run instead of creating a second set. A
crashed run becomes sweepable when its lease ends: by default 15 minutes after it started (longer when the
blueprint's deploy timeout is), or ``OPENSEARCH_LLM_LEASE`` (``90s``, ``10m``, ``1h``).
"""

from __future__ import annotations

import os
import re
import socket
from datetime import datetime, timedelta, timezone
from typing import Mapping, Optional

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.naming import Marker

LEASE_ENV = "OPENSEARCH_LLM_LEASE"
DEFAULT = timedelta(minutes=15)
_DURATION = re.compile(r"^(\d+)([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}
FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def duration(deploy_timeout: float = 0.0, env: Optional[Mapping[str, str]] = None) -> timedelta:
    """How long a run's lease lasts (``OPENSEARCH_LLM_LEASE``, else 15 minutes or twice the deploy timeout)."""
    raw = (env if env is not None else os.environ).get(LEASE_ENV, "").strip()
    if raw:
        found = _DURATION.match(raw)
        if not found:
            raise InvalidInputError(f"{LEASE_ENV}={raw!r} is not a duration", hint="use e.g. 90s, 10m or 1h")
        return timedelta(seconds=int(found[1]) * _UNITS[found[2]])
    return max(DEFAULT, timedelta(seconds=2 * deploy_timeout + 300))


def host() -> str:
    """This machine's name as it can stand in a marker."""
    return re.sub(r"[^\w.-]", "_", socket.gethostname() or "unknown")[:63]


def tokens(length: timedelta, now: Optional[datetime] = None) -> dict[str, str]:
    """The marker tokens of a lease of ``length`` starting ``now``."""
    until = (now or datetime.now(timezone.utc)) + length
    return {"lease": until.strftime(FORMAT), "host": host()}


def until(marker: Marker) -> Optional[datetime]:
    """When ``marker``'s lease ends, or None (no lease: written before leases existed)."""
    raw = marker.get("lease")
    try:
        return datetime.strptime(raw, FORMAT).replace(tzinfo=timezone.utc) if raw else None
    except ValueError:
        return None


def is_live(marker: Marker, now: Optional[datetime] = None) -> bool:
    """True while ``marker``'s run holds its lease."""
    end = until(marker)
    return end is not None and end > (now or datetime.now(timezone.utc))


def who(marker: Marker) -> str:
    """``user on host`` (or whichever is known) of the run that wrote ``marker``."""
    parts = [p for p in (marker.owner, marker.get("host")) if p]
    return " on ".join(parts) or "an unknown caller"
