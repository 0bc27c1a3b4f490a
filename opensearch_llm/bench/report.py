"""What a bench found, for scripts (:meth:`BenchReport.to_dict`) and for a terminal (:meth:`BenchReport.render`,
with a histogram of each path's latencies in unicode block bars)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

from opensearch_llm.bench.stats import PathStats
from opensearch_llm.errors import excerpt

BUCKETS = 10
BLOCKS = "▏▎▍▌▋▊▉█"  # one to eight eighths of a cell
MAX_BAR = 60
CLUSTER, DIRECT = "cluster", "direct"


def buckets(values: Sequence[float], count: int = BUCKETS) -> List[Tuple[float, float, int]]:
    """``count`` equal-width buckets from the smallest to the largest value: ``(low, high, how many)``; one
    bucket when every value is the same, none when there are no values."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [(low, high, len(values))]
    step = (high - low) / count
    counts = [0] * count
    for value in values:
        counts[min(int((value - low) / step), count - 1)] += 1
    return [(low + i * step, low + (i + 1) * step, n) for i, n in enumerate(counts)]


def bar(count: int, most: int, width: int) -> str:
    """A bar ``count / most`` of ``width`` cells long, in eighths of a cell; never empty for a count above 0."""
    if count <= 0 or most <= 0:
        return ""
    eighths = max(1, round(count / most * width * 8))
    full, rest = divmod(eighths, 8)
    return BLOCKS[-1] * full + (BLOCKS[rest - 1] if rest else "")


def histogram(millis: Sequence[float], width: int = 80, count: int = BUCKETS) -> List[str]:
    """One line per bucket: ``  12.0 –  15.5 ms │█████▍   │ 37``, fitting in ``width`` columns."""
    rows = buckets(millis, count)
    if not rows:
        return []
    most = max(n for _low, _high, n in rows)
    digits, span = len(str(most)), len(f"{rows[-1][1]:.1f}")
    labels = [f"{low:{span}.1f} – {high:{span}.1f} ms" for low, high, _n in rows]
    cells = min(MAX_BAR, max(10, width - len(labels[0]) - digits - 6))
    return [f"  {label} │{bar(n, most, cells):<{cells}}│ {n:>{digits}}" for label, (_l, _h, n) in zip(labels, rows)]


@dataclass
class BenchReport:
    """The bench of one blueprint: each path's figures (cluster first, then direct when it ran) and, when the
    direct path did not run, why."""

    blueprint: str
    model_id: str
    requests: int
    concurrency: int
    paths: Dict[str, PathStats] = field(default_factory=dict)
    direct_note: str = ""
    direct_url: str = ""  # masked

    def medians(self) -> Optional[Tuple[float, float]]:
        """The median latency through the cluster and straight to the provider (None without both)."""
        cluster, direct = self.paths.get(CLUSTER), self.paths.get(DIRECT)
        ours = cluster.latency if cluster else None
        theirs = direct.latency if direct else None
        if ours is None or theirs is None or theirs.p50 <= 0:
            return None
        return ours.p50, theirs.p50

    def hop_ratio(self) -> Optional[float]:
        """Median latency through the cluster over the median straight to the provider (None without both)."""
        medians = self.medians()
        return medians[0] / medians[1] if medians else None

    def to_dict(self) -> dict:
        """JSON-ready view; each path with its latency histogram as ``{from_ms, to_ms, count}`` buckets."""
        paths = {}
        for name, stats in self.paths.items():
            paths[name] = {**stats.to_dict(), "histogram": [
                {"from_ms": round(low, 3), "to_ms": round(high, 3), "count": n} for low, high, n in
                buckets(stats.millis)]}
        ratio = self.hop_ratio()
        return {"blueprint": self.blueprint, "model_id": self.model_id, "requests": self.requests,
                "concurrency": self.concurrency, "paths": paths, "direct_url": self.direct_url,
                "direct_note": self.direct_note, "cluster_p50_over_direct_p50": round(ratio, 3) if ratio else None}

    def render(self, width: int = 100) -> str:
        """The figures as a terminal shows them, ``width`` columns wide."""
        lines = [f"bench {self.blueprint} (model {self.model_id}): {self.requests} calls per path, "
                 f"{self.concurrency} at a time"]
        for name, stats in self.paths.items():
            where = f" to {self.direct_url}" if name == DIRECT and self.direct_url else ""
            lines += ["", *_path_lines(name + where, stats, width)]
        if self.direct_note:
            lines += ["", f"direct: not run: {self.direct_note}"]
        medians = self.medians()
        if medians is not None:
            ours, theirs = medians
            lines += ["", f"cluster hop: p50 {ours:.1f} ms through the cluster vs {theirs:.1f} ms direct "
                          f"= {ours / theirs:.2f}x"]
        return "\n".join(lines)


def _path_lines(title: str, stats: PathStats, width: int) -> List[str]:
    lines = [f"{title}: {stats.sent} sent, {stats.ok} ok, {stats.failed} failed, {stats.retries} retries, "
             f"{stats.wall_seconds:.2f} s, {stats.throughput:.1f} calls/s"]
    latency = stats.latency
    if latency is not None:
        lines.append(f"  latency ms (answered calls): min {latency.min:.1f}  p50 {latency.p50:.1f}  "
                     f"p90 {latency.p90:.1f}  p99 {latency.p99:.1f}  max {latency.max:.1f}  mean {latency.mean:.1f}")
    for kind, n in sorted(stats.errors.items(), key=lambda item: -item[1]):
        example = stats.examples.get(kind)
        head = f"  {n} x {kind}"
        lines.append(head + (f": {excerpt(example, max(20, width - len(head) - 2))}" if example else ""))
    return lines + histogram(stats.millis, width)
