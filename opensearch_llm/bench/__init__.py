"""``bench``: how a provisioned model behaves under bounded load, and what the cluster hop costs.

:func:`run_bench` sends ``requests`` predicts through the blueprint's model, ``concurrency`` at a time
(:mod:`~opensearch_llm.bench.run`), then the same load straight to the provider from this machine
(:mod:`~opensearch_llm.bench.direct`). Each call's latency and outcome (``ok``, or its error's class and
status, e.g. ``UpstreamRateLimitError 429``) and its retried refusals are recorded; a
:class:`~opensearch_llm.bench.report.BenchReport` holds each path's figures (nearest-rank percentiles,
:mod:`~opensearch_llm.bench.stats`) and renders them with a latency histogram per path. Latencies are of
the calls that produced an answer. The load is bounded: at most :data:`MAX_REQUESTS` calls per path and
:data:`MAX_CONCURRENCY` at a time. Every call may be billed by the provider.
"""

from __future__ import annotations

from opensearch_llm.bench.report import BenchReport
from opensearch_llm.bench.run import MAX_CONCURRENCY, MAX_REQUESTS, check_load, run_bench
from opensearch_llm.bench.stats import Call, MeasuredLatency, PathStats, percentile

__all__ = ["MAX_CONCURRENCY", "MAX_REQUESTS", "BenchReport", "Call", "MeasuredLatency", "PathStats", "check_load",
           "percentile", "run_bench"]
