"""A provider's per-account concurrency cap for the fakes, and the tally that tells billed calls from refused ones.

DeepSeek caps how many requests an account may have in flight and answers HTTP 429 beyond it (Rate Limit &
Isolation page, late 2026), at once and without running the model, so a refused call is never billed.
:class:`ConcurrencyCap` does the same for a :class:`~opensearch_llm.testing._server.FakeServer`: a request in
scope (its path contains ``path_contains``, ``"chat"`` by default) counts as in flight from the moment it is
admitted until its answer is sent (a ``slow`` delay included); one more than ``limit`` is refused.

The tally counts requests in scope whether a limit is set or not: ``billed`` (answered with HTTP 200: the model
produced an answer, a malformed one included), ``refused`` (429 by the cap) and ``max_in_flight``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

#: The message a refused call gets, in the provider's error body (DeepSeek's wording for the concurrency cap).
CAP_MESSAGE = "Rate limit reached for requests: too many concurrent requests"
DEFAULT_SCOPE = "chat"


@dataclass(frozen=True)
class Tally:
    """What the cap saw: answers produced (billed), requests refused, and the highest concurrency."""

    billed: int
    refused: int
    in_flight: int
    max_in_flight: int


class ConcurrencyCap:
    """Admit at most ``limit`` requests in flight on matching paths (no limit: admit all); thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.limit: Optional[int] = None
        self.retry_after: Optional[int] = None
        self.path_contains = DEFAULT_SCOPE
        self._in_flight = self._max = self._billed = self._refused = 0

    def set(self, limit: Optional[int], retry_after: Optional[int] = None,
            path_contains: str = DEFAULT_SCOPE) -> None:
        """Cap requests whose path contains ``path_contains`` at ``limit`` in flight (None: no cap)."""
        if limit is not None and limit < 1:
            raise ValueError(f"a concurrency cap must be at least 1, got {limit}")
        with self._lock:
            self.limit, self.retry_after, self.path_contains = limit, retry_after, path_contains

    def in_scope(self, path: str) -> bool:
        """True when requests to ``path`` are counted (and capped when a limit is set)."""
        return self.path_contains in path

    def admit(self) -> bool:
        """Count one more request in flight and return True, or count it refused and return False."""
        with self._lock:
            if self.limit is not None and self._in_flight >= self.limit:
                self._refused += 1
                return False
            self._in_flight += 1
            self._max = max(self._max, self._in_flight)
            return True

    def release(self, billed: bool) -> None:
        """An admitted request was answered (``billed`` when the answer was an HTTP 200) or dropped."""
        with self._lock:
            self._in_flight -= 1
            self._billed += int(billed)

    def tally(self) -> Tally:
        """A consistent snapshot of the counters."""
        with self._lock:
            return Tally(self._billed, self._refused, self._in_flight, self._max)

    def reset(self) -> None:
        """Zero the counters (requests still in flight stay counted as in flight)."""
        with self._lock:
            self._billed = self._refused = 0
            self._max = self._in_flight
