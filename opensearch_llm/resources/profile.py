"""ML Commons' live figures of deployed models: the profile API and the stats API (read only).

``GET /_plugins/_ml/profile/models[/<id>,<id>]`` (``RestMLProfileAction``) answers, per node, each model the node
holds in its model cache::

    {"nodes": {"<node id>": {"models": {"<model id>": {
        "model_state": "DEPLOYED", "predictor": "...", "target_worker_nodes": [...], "worker_nodes": [...],
        "model_inference_stats": {"count", "max", "min", "average", "p50", "p90", "p99"},
        "predict_request_stats": {...same keys...}}}}}}

(``MLProfileResponse`` / ``MLProfileNodeResponse`` / ``MLModelProfile`` / ``MLPredictRequestStats``). Every field
is written only when set, and the answer is ``{}`` when no node holds anything. The figures are milliseconds over
a node's last ``plugins.ml_commons.monitoring_request_count`` (default 100) calls: ``model_inference_stats`` the
successful calls this node ran (for a remote model: the connector call), ``predict_request_stats`` every predict
request that passed through this node (failures too; on a cluster both the node that received the request and
the worker that ran it record it).

``GET /_plugins/_ml/stats`` (``RestMLStatsAction``) takes an ``MLStatsInput`` body and answers, per node::

    {"nodes": {"<node id>": {"ml_executing_task_count": 0,
        "models": {"<model id>": {"predict": {"ml_action_request_count": 52, "ml_action_failure_count": 0}}}}}}

(``MLStatsNodeResponse`` / ``MLModelStats`` / ``MLActionStats``: counters since the node started, kept by the
node that ran the request). Both shapes are the same on 2.19.6 and 3.6.0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence
from urllib.parse import quote

from opensearch_llm.resources.common import about, or_none

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "model profile"
PROFILE = "/_plugins/_ml/profile/models"
STATS = "/_plugins/_ml/stats"
# model level only (no cluster-level stats: those count the model and connector indices on every call), the
# predict action, and the node's in-flight task count (lifecycle.traffic needs it to tell running from failed)
STATS_INPUT: dict = {"target_stat_levels": ["node", "model"], "node_level_stats": ["ml_executing_task_count"],
                     "actions": ["predict"]}


def stats_nodes(answer: Any) -> dict[str, dict]:
    """The ``nodes`` map of a stats (or profile) answer, each node a dict (a missing or malformed one is left out)."""
    nodes = answer.get("nodes") if isinstance(answer, Mapping) else None
    if not isinstance(nodes, Mapping):
        return {}
    return {str(node_id): dict(node) for node_id, node in nodes.items() if isinstance(node, Mapping)}


def profile_models(answer: Any) -> dict[str, dict]:
    """``{node id: {model id: profile}}`` of a profile answer (a node holding no model is left out)."""
    held = {node_id: node.get("models") for node_id, node in stats_nodes(answer).items()}
    return {node_id: dict(models) for node_id, models in held.items() if isinstance(models, Mapping) and models}


def profile(client: "OpenSearch", model_ids: Sequence[str] = ()) -> dict[str, dict]:
    """``{node id: {model id: profile}}`` for ``model_ids`` (every model when empty); ``{}`` when none is held (or
    404)."""
    path = PROFILE + (f"/{quote(','.join(model_ids), safe=',')}" if model_ids else "")
    with about(KIND):
        return profile_models(or_none(lambda: client.transport.perform_request("GET", path)))


def stats(client: "OpenSearch", model_ids: Sequence[str] = ()) -> dict[str, dict]:
    """``{node id: node stats}`` restricted to ``model_ids`` (every model when empty) and the predict action;
    ``{}`` when no node has any (or 404)."""
    body = {**STATS_INPUT, **({"models": list(model_ids)} if model_ids else {})}
    with about("ml stats"):
        return stats_nodes(or_none(lambda: client.transport.perform_request("GET", STATS, body=body)))
