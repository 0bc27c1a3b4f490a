"""How our models are used: requests, failures and latency per node, from ML Commons' stats and profile APIs
(:mod:`opensearch_llm.resources.profile`); ``top`` shows them, ``doctor BLUEPRINT`` sums them up in one line.

What ML Commons counts, and where (2.19.6 and 3.6.0: ``MLPredictTaskRunner``, ``TransportPredictionTaskAction``,
``MLModelCache``):

- requests: the node that runs a predict counts it (the model's ``predict.ml_action_request_count``), from the
  node's start; the sum over the nodes is every predict that reached a worker.
- failures: ML Commons creates the model's ``ml_action_failure_count`` on a failure but never increments it
  (``handlePredictFailure`` lacks the ``.increment()``, 2.19.6 to 3.8), so it reads 0. A node's failures are
  told instead as the requests it ran, less those still running (``ml_executing_task_count``), less its
  successful calls (``model_inference_stats.count``). That holds while the node's windows (its last
  ``monitoring_request_count`` calls, default 100) still hold every request it ran, that is while
  ``predict_request_stats.count`` is at least that many; past the window, or after an undeploy reset the
  node's window, the count is unknown (None), never a guess. The stats are read before the profile, so a
  request that ends between the two reads counts as done, not as failed.
- latency: each node's ``model_inference_stats``, the successful calls it ran (for a remote model, the
  connector call), in ms. Percentiles of several nodes cannot be merged: a model's are the slowest node's,
  an upper bound (``exact`` False).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence

from opensearch_llm.errors import OpenSearchLLMError, excerpt
from opensearch_llm.lifecycle.facts import owned
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.resources import model, profile as profile_api
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint

PERCENTILES = ("p50", "p90", "p99")


def _number(value: Any) -> Optional[float]:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value: Any) -> Optional[int]:
    number = _number(value)
    return int(number) if number is not None else None


@dataclass(frozen=True)
class Latency:
    """Milliseconds over a window of calls (ML Commons' ``MLPredictRequestStats``)."""

    count: int
    min: Optional[float] = None
    max: Optional[float] = None
    average: Optional[float] = None
    p50: Optional[float] = None
    p90: Optional[float] = None
    p99: Optional[float] = None
    exact: bool = True  # False when merged from several nodes: the percentiles are the slowest node's

    @classmethod
    def from_doc(cls, doc: Any) -> Optional["Latency"]:
        """The figures of one ``*_stats`` object; None when it is missing or has no count."""
        count = _count(doc.get("count")) if isinstance(doc, Mapping) else None
        if not count:
            return None
        return cls(count, *(_number(doc.get(key)) for key in ("min", "max", "average", *PERCENTILES)))

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def _most(values: Iterable[Optional[float]], pick: Callable[[list[float]], float]) -> Optional[float]:
    known = [v for v in values if v is not None]
    return pick(known) if known else None


def merge(parts: Sequence[Latency]) -> Optional[Latency]:
    """Several nodes' windows as one: count, min, max and mean exact; percentiles the largest (an upper bound)."""
    if len(parts) <= 1:
        return parts[0] if parts else None
    count = sum(p.count for p in parts)
    mean = None if any(p.average is None for p in parts) else sum((p.average or 0.0) * p.count for p in parts) / count
    return Latency(count, _most((p.min for p in parts), min), _most((p.max for p in parts), max), mean,
                   *(_most((getattr(p, key) for p in parts), max) for key in PERCENTILES), exact=False)


@dataclass(frozen=True)
class NodeFigures:
    """One node's figures for one model."""

    node_id: str
    state: Optional[str] = None  # the model's state in this node's cache (None: the node only routed requests)
    requests: int = 0  # predicts this node ran since it started
    reported_failures: Optional[int] = None  # ML Commons' own counter (never incremented: see the module doc)
    executing: int = 0  # ML tasks running on this node now, every model's
    latency: Optional[Latency] = None  # model_inference_stats: successful calls run here
    request_latency: Optional[Latency] = None  # predict_request_stats: requests through this node, failures too

    @property
    def failed(self) -> Optional[int]:
        """Failed predicts this node ran; None when its windows no longer hold them all."""
        done = self.requests - self.executing
        reported = self.reported_failures or 0
        if done <= 0:
            return reported
        if done > (self.request_latency.count if self.request_latency else 0):
            return reported or None
        return max(reported, done - (self.latency.count if self.latency else 0))

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"node_id": self.node_id, "state": self.state, "requests": self.requests, "failed": self.failed,
                "reported_failures": self.reported_failures, "executing": self.executing,
                "latency": self.latency.to_dict() if self.latency else None,
                "request_latency": self.request_latency.to_dict() if self.request_latency else None}


@dataclass(frozen=True)
class ModelFigures:
    """One model's figures: per node, and summed up."""

    model_id: str
    nodes: tuple[NodeFigures, ...] = ()

    @property
    def requests(self) -> int:
        """Predicts run, every node's."""
        return sum(n.requests for n in self.nodes)

    @property
    def failed(self) -> Optional[int]:
        """Failed predicts, every node's; None when a node's cannot be told."""
        counts = [n.failed for n in self.nodes]
        return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)

    @property
    def failure_rate(self) -> Optional[float]:
        """Failed share of the requests (0.0 to 1.0); None when unknown or nothing ran."""
        failed = self.failed
        return failed / self.requests if failed is not None and self.requests else None

    @property
    def latency(self) -> Optional[Latency]:
        """The successful calls' latency over every node (see :func:`merge`)."""
        return merge([n.latency for n in self.nodes if n.latency])


def node_figures(node_id: str, held: Any, counted: Mapping[str, Any], model_id: str) -> NodeFigures:
    """One node's figures for ``model_id`` from its profile entry (``held``) and its stats (``counted``)."""
    held = held if isinstance(held, Mapping) else {}
    models = counted.get("models") if isinstance(counted.get("models"), Mapping) else {}
    action = (models.get(model_id) or {}).get("predict") if isinstance(models.get(model_id), Mapping) else None
    action = action if isinstance(action, Mapping) else {}
    state = held.get("model_state")
    return NodeFigures(node_id, state=str(state) if state else None,
                       requests=_count(action.get("ml_action_request_count")) or 0,
                       reported_failures=_count(action.get("ml_action_failure_count")),
                       executing=_count(counted.get("ml_executing_task_count")) or 0,
                       latency=Latency.from_doc(held.get("model_inference_stats")),
                       request_latency=Latency.from_doc(held.get("predict_request_stats")))


def figures(profiles: Mapping[str, Mapping], stats: Mapping[str, Mapping],
            model_ids: Iterable[str]) -> dict[str, ModelFigures]:
    """Each model's figures from the answers of :func:`opensearch_llm.resources.profile.profile` and
    :func:`~opensearch_llm.resources.profile.stats` (pure; a node that knows nothing of a model is left out)."""
    out = {}
    for model_id in model_ids:
        held = {node: models[model_id] for node, models in profiles.items() if model_id in models}
        counted = {node: s for node, s in stats.items()
                   if isinstance(s.get("models"), Mapping) and model_id in s["models"]}
        out[model_id] = ModelFigures(model_id, tuple(node_figures(node, held.get(node), stats.get(node, {}), model_id)
                                                     for node in sorted({*held, *counted})))
    return out


def read(client: "OpenSearch", model_ids: Sequence[str]) -> tuple[dict, dict]:
    """``(profiles, stats)`` of ``model_ids``: the stats first (see the module doc), then the profile."""
    if not model_ids:
        return {}, {}
    counted = profile_api.stats(client, model_ids)
    return profile_api.profile(client, model_ids), counted


def summary(model_id: str, found: ModelFigures) -> str:
    """``model X: 52 requests, 0 failed (0.0 %), p99 123 ms (ML Commons profile)``."""
    if not found.requests:
        return f"model {model_id}: no predict since its nodes started (ML Commons stats)"
    failed = found.failed
    failures = (f"{failed} failed ({100 * failed / found.requests:.1f} %)" if failed is not None
                else "failures unknown (more than ML Commons' window of recent requests)")
    latency = found.latency
    p99 = (f"p99 {'<= ' if not latency.exact else ''}{latency.p99:.0f} ms" if latency and latency.p99 is not None
           else "no successful call in the window")
    return f"model {model_id}: {found.requests} requests, {failures}, {p99} (ML Commons profile)"


def blueprint_rows(client: "OpenSearch", blueprints: Sequence["Blueprint"]) -> list[dict]:
    """One row per blueprint whose ``up`` model exists: its requests, failure rate and p99, as keyword arguments of
    ``doctor``'s Check (a warning when a call failed or the figures cannot be read)."""
    if not blueprints:
        return []
    try:
        models = owned("model", model.list_marked(client))
        found = {bp.name: max((m for m in models if m.marker.blueprint == bp.name and m.name == names_for(bp).model),
                              key=lambda m: m.marker.created, default=None) for bp in blueprints}
        ids = [m.id for m in found.values() if m is not None]
        counted = figures(*read(client, ids), ids)
    except OpenSearchLLMError as exc:
        detail = mask_text(f"cannot read ML Commons stats/profile: {excerpt(str(exc), 200)}")
        return [{"name": "recent traffic", "ok": True, "detail": detail, "warn": True}]
    return [{"name": f"{name}: recent traffic", "ok": True, "detail": summary(m.id, counted[m.id]),
             "warn": bool(counted[m.id].failed)} for name, m in found.items() if m is not None]
