"""The figures of one bench path: each call's outcome, nearest-rank percentiles, and the per-path summary."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from typing import Dict, List, Optional, Sequence

OK = "ok"
PERCENTILES = (50, 90, 99)


@dataclass(frozen=True)
class Call:
    """One call: how long it took, ``ok`` or the error's kind, its refused-and-retried attempts, the (masked)
    error text."""

    seconds: float
    kind: str = OK
    retries: int = 0
    message: str = ""

    @property
    def ok(self) -> bool:
        """True when the call produced an answer."""
        return self.kind == OK


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest rank: the smallest value with at least ``p`` percent of ``sorted_values`` at or below it.

    ``sorted_values`` must be sorted ascending and not empty; ``p`` is in 0..100 (0 gives the minimum).
    """
    if not sorted_values:
        raise ValueError("no values")
    if not 0 <= p <= 100:
        raise ValueError(f"a percentile is between 0 and 100, got {p}")
    # exact arithmetic: 0.9 * 10 in floats may round up past the rank it means
    rank = math.ceil(Fraction(str(p)) * len(sorted_values) / 100)
    return sorted_values[max(rank, 1) - 1]


@dataclass(frozen=True)
class MeasuredLatency:
    """Latency figures in milliseconds, computed from the calls a bench timed (not ML Commons' window: see
    :class:`opensearch_llm.lifecycle.traffic.Latency`)."""

    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, millis: Sequence[float]) -> Optional["MeasuredLatency"]:
        """The figures of ``millis`` (any order), or None when there are none."""
        if not millis:
            return None
        ordered = sorted(millis)
        p50, p90, p99 = (percentile(ordered, p) for p in PERCENTILES)
        return cls(min=ordered[0], p50=p50, p90=p90, p99=p99, max=ordered[-1], mean=sum(ordered) / len(ordered))

    def to_dict(self) -> Dict[str, float]:
        """JSON-ready view, rounded to microseconds."""
        return {k: round(v, 3) for k, v in asdict(self).items()}


@dataclass
class PathStats:
    """One path's figures (``cluster`` or ``direct``); latencies are of the calls that produced an answer."""

    path: str
    sent: int
    ok: int
    retries: int
    wall_seconds: float
    errors: Dict[str, int] = field(default_factory=dict)
    examples: Dict[str, str] = field(default_factory=dict)  # the first (masked) error text of each kind
    millis: List[float] = field(default_factory=list)

    @classmethod
    def from_calls(cls, path: str, calls: Sequence[Call], wall_seconds: float) -> "PathStats":
        """Summarise ``calls`` that took ``wall_seconds`` in all."""
        stats = cls(path=path, sent=len(calls), ok=sum(c.ok for c in calls), retries=sum(c.retries for c in calls),
                    wall_seconds=wall_seconds, millis=[c.seconds * 1000 for c in calls if c.ok])
        for call in calls:
            if not call.ok:
                stats.errors[call.kind] = stats.errors.get(call.kind, 0) + 1
                stats.examples.setdefault(call.kind, call.message)
        return stats

    @property
    def failed(self) -> int:
        """Calls that produced no answer."""
        return self.sent - self.ok

    @property
    def latency(self) -> Optional[MeasuredLatency]:
        """The latency figures of the answered calls (None when none was answered)."""
        return MeasuredLatency.of(self.millis)

    @property
    def throughput(self) -> float:
        """Calls finished per second of wall time."""
        return self.sent / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def to_dict(self) -> dict:
        """JSON-ready view (without the raw latencies)."""
        latency = self.latency
        return {"sent": self.sent, "ok": self.ok, "failed": self.failed, "errors": dict(self.errors),
                "error_examples": dict(self.examples), "retries": self.retries,
                "wall_seconds": round(self.wall_seconds, 3), "throughput_per_second": round(self.throughput, 2),
                "latency_ms": latency.to_dict() if latency else None}
