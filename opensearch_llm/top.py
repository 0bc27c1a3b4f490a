"""``top``: every model of ours at a glance: blueprint, id, state, serving/planned nodes, requests, failures and
latency percentiles, per model and, on a cluster, per node.

The models come from the listing (their description carries our marker), the figures from ML Commons' stats and
profile APIs; :mod:`opensearch_llm.lifecycle.traffic` says what each figure means and where it is counted.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Mapping, Optional, Sequence

from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle import traffic
from opensearch_llm.lifecycle.facts import Owned, all_owned, cluster_nodes
from opensearch_llm.lifecycle.placement import serving_text
from opensearch_llm.lifecycle.traffic import Latency, NodeFigures

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

UPPER_BOUND = "<= : the model serves on several nodes; the slowest node's figure (an upper bound)"
UNKNOWN = ("failed ?: a node ran more requests than ML Commons' window of recent calls holds "
           "(plugins.ml_commons.monitoring_request_count), so its failures cannot be told")
LATENCY = "P50/P90/P99: ms, ML Commons model_inference_stats (successful calls in each node's recent window)"


def _rate(failed: Optional[int], requests: int) -> Optional[float]:
    return failed / requests if failed is not None and requests else None


@dataclass(frozen=True)
class NodeRow:
    """One node's figures for one model."""

    node: str  # the node's name where known, else its id
    figures: NodeFigures

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"node": self.node, **self.figures.to_dict()}


@dataclass(frozen=True)
class ModelRow:
    """One model of ours and its figures."""

    blueprint: str
    name: str
    model_id: str
    run_kind: str  # up or smoke
    state: str  # model_state of the model document
    serving: str  # serving/planned nodes (placement.serving_text)
    figures: traffic.ModelFigures
    nodes: tuple[NodeRow, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready view; latency in ms."""
        latency = self.figures.latency
        return {"blueprint": self.blueprint, "name": self.name, "model_id": self.model_id, "run_kind": self.run_kind,
                "state": self.state, "serving": self.serving, "requests": self.figures.requests,
                "failed": self.figures.failed, "failure_rate": self.figures.failure_rate,
                "latency": latency.to_dict() if latency else None, "nodes": [n.to_dict() for n in self.nodes]}


@dataclass(frozen=True)
class TopSnapshot:
    """What ``top`` shows at one moment."""

    taken: str  # ISO 8601, UTC
    models: tuple[ModelRow, ...] = ()
    node_count: int = 0  # nodes in the cluster
    blueprints: tuple[str, ...] = ()  # the filter, when one was given
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"taken": self.taken, "node_count": self.node_count, "blueprints": list(self.blueprints),
                "models": [m.to_dict() for m in self.models], "notes": list(self.notes)}

    def render(self, width: int = 100) -> str:
        """The snapshot as ``top`` shows it: a text table ``width`` columns wide."""
        return render(self, width)


def rows(models: Sequence[Owned], node_names: Mapping[str, str], profiles: Mapping[str, Mapping],
         stats: Mapping[str, Mapping]) -> list[ModelRow]:
    """Merge the listing, the profile and the stats into one row per model, by blueprint and name (pure)."""
    found = traffic.figures(profiles, stats, [m.id for m in models])
    out = []
    for m in sorted(models, key=lambda m: (m.marker.blueprint, m.name, m.id)):
        figures = found[m.id]
        out.append(ModelRow(m.marker.blueprint, m.name, m.id, m.marker.run_kind(m.name),
                            str(m.doc.get("model_state", "")), serving_text(m.doc, dict(node_names)), figures,
                            tuple(NodeRow(node_names.get(n.node_id, n.node_id), n) for n in figures.nodes)))
    return out


def notes(models: Sequence[ModelRow]) -> tuple[str, ...]:
    """The footnotes the figures of ``models`` need."""
    out = [LATENCY] if models else []
    if any(m.figures.latency and not m.figures.latency.exact for m in models):
        out.append(UPPER_BOUND)
    if any(m.figures.failed is None for m in models):
        out.append(UNKNOWN)
    return tuple(out)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def snapshot(client: "OpenSearch", blueprints: Sequence[str] = (), *, now: Callable[[], str] = _now) -> TopSnapshot:
    """Every model of ours (of ``blueprints``, by name, when given) with its figures, read now."""
    wanted = set(blueprints)
    models = [m for m in all_owned(client, {"model"}) if not wanted or m.marker.blueprint in wanted]
    ids = [m.id for m in models]
    with ThreadPoolExecutor(max_workers=2) as pool:  # the node names while the figures are read
        nodes_f = pool.submit(cluster_nodes, client)
        extra: tuple[str, ...] = ()
        try:
            profiles, stats = traffic.read(client, ids)
        except ClusterError as exc:
            if exc.status != 403:
                raise
            profiles, stats = {}, {}
            extra = (f"figures unreadable: {exc.message} (needs the ML Commons stats and profile permissions, "
                     "docs/permissions.md)",)
        nodes = nodes_f.result()[2]
    found = rows(models, {n.id: n.name for n in nodes}, profiles, stats)
    return TopSnapshot(now(), tuple(found), len(nodes), tuple(blueprints), notes(found) + extra)


def _ms(value: Optional[float], exact: bool = True) -> str:
    if value is None:
        return "-"
    return ("<=" if not exact else "") + (f"{value:.0f}" if value >= 100 else f"{value:.1f}")


def _figures(requests: int, failed: Optional[int], latency: Optional[Latency]) -> list[str]:
    rate = _rate(failed, requests)
    shown = "?" if failed is None else f"{failed}" + (f" ({100 * rate:.1f}%)" if rate is not None else "")
    exact = latency.exact if latency else True
    return [str(requests), shown, *(_ms(getattr(latency, p, None), exact) for p in traffic.PERCENTILES)]


def _cells(row: ModelRow, per_node: bool) -> list[list[str]]:
    nodes = row.serving.split(":")[0].replace(" nodes", "") or "-"
    name = row.blueprint + (" (smoke)" if row.run_kind == "smoke" else "")
    out = [[name, row.model_id, row.state or "-", nodes,
            *_figures(row.figures.requests, row.figures.failed, row.figures.latency)]]
    for n in row.nodes if per_node else ():
        state = n.figures.state or "routing"  # a node that only passed requests on holds no model state
        out.append([f"  {n.node}", "", state, "", *_figures(n.figures.requests, n.figures.failed, n.figures.latency)])
    return out


HEADER = ["BLUEPRINT", "MODEL", "STATE", "NODES", "REQUESTS", "FAILED", "P50", "P90", "P99"]  # latency in ms


def _fit(table: list[list[str]], width: int) -> list[int]:
    """Column widths: the natural ones, the blueprint and model columns narrowed (to 8) when the line is too long."""
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADER))]
    for col in (0, 1):
        excess = sum(widths) + 2 * (len(widths) - 1) - width
        if excess > 0:
            widths[col] = max(8, widths[col] - excess)
    return widths


def _cut(text: str, size: int) -> str:
    return text if len(text) <= size else text[:max(size - 2, 0)] + ".."


def render(snap: TopSnapshot, width: int = 100) -> str:
    """A text table, one line per model and, on a cluster, one per node under it; then the footnotes."""
    head = (f"opensearch-llm top  {snap.taken}  {len(snap.models)} model(s) of ours, "
            f"{snap.node_count} node(s) in the cluster")
    if not snap.models:
        which = f" for {', '.join(snap.blueprints)}" if snap.blueprints else ""
        return "\n".join([head, f"no model of ours{which} in this cluster", *snap.notes])
    per_node = snap.node_count > 1 or any(len(m.nodes) > 1 for m in snap.models)
    table = [HEADER] + [cells for m in snap.models for cells in _cells(m, per_node)]
    widths = _fit(table, width)
    lines = ["  ".join(_cut(c, w).rjust(w) if i >= 4 else _cut(c, w).ljust(w) for i, (c, w) in
                       enumerate(zip(r, widths))).rstrip() for r in table]
    return "\n".join([head, *lines, *(f"* {n}" for n in snap.notes)])
