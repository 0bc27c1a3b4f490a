"""Where a model serves: every eligible node (ML Commons' default) or the nodes a blueprint names.

ML Commons deploys a remote model to the nodes whose roles match
``plugins.ml_commons.task_dispatcher.eligible_node_role.remote_model`` (data and ml by default), and keeps
that set current as nodes leave and join. A list of node ids is a custom deployment plan: it needs
``plugins.ml_commons.allow_custom_deployment_plan``, and a node of it that leaves makes the model
PARTIALLY_DEPLOYED (or DEPLOY_FAILED when none is left) until it is deployed again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Sequence

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.facts import Facts, Node, all_owned, cluster_nodes
from opensearch_llm.resources.model import short_of_workers, workers

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint

ALLOW_CUSTOM = "plugins.ml_commons.allow_custom_deployment_plan"


def planned_nodes(blueprint: "Blueprint", facts: Facts) -> tuple[Node, ...]:
    """The nodes of the blueprint's custom deployment plan, or () for every eligible node."""
    spec = blueprint.deploy
    if spec.nodes:
        known = {n.name: n for n in facts.nodes} | {n.id: n for n in facts.nodes}
        unknown = [name for name in spec.nodes if name not in known]
        if unknown:
            raise InvalidInputError(
                f"{blueprint.source}: deploy.nodes names {', '.join(map(repr, unknown))}, not a node of this cluster "
                f"(its nodes: {', '.join(n.name for n in facts.nodes)})",
                hint="name running nodes, or start the missing ones first")
        return tuple(dict.fromkeys(known[name] for name in spec.nodes))
    if spec.roles:
        chosen = tuple(n for n in facts.nodes if set(n.roles) & set(spec.roles))
        if not chosen:
            raise InvalidInputError(f"{blueprint.source}: no node of this cluster has the role(s) "
                                    f"{', '.join(spec.roles)}", hint="change deploy.roles, or add such a node")
        return chosen
    return ()


def flags_for(nodes: Sequence[Node]) -> tuple[str, ...]:
    """The settings a deployment plan needs on."""
    return (ALLOW_CUSTOM,) if nodes else ()


def heal_reason(doc: dict) -> Optional[str]:
    """Why a model of ours must be deployed again (None when it serves as planned)."""
    state = doc.get("model_state", "UNKNOWN")
    current, planned = workers(doc)
    count = f" ({current} of {planned} planned nodes serve)" if current is not None and planned else ""
    if state != "DEPLOYED":
        return f"exists but is {state}{count}: deploy again"
    if short_of_workers(doc):
        return f"DEPLOYED, but only {current} of {planned} planned nodes serve: deploy again"
    return None


def serving_text(doc: dict, names: dict) -> str:
    """``2/3 nodes: node-1, node-2`` for a model document (its planned nodes, by name where known)."""
    current, planned = workers(doc)
    ids = doc.get("planning_worker_nodes") or []
    shown = ", ".join(sorted(names.get(i, i) for i in ids))
    if current is None and planned is None:
        return ""
    return f"{current if current is not None else '?'}/{planned if planned is not None else '?'} nodes" + \
        (f": {shown}" if shown else "")


def models_serving(client: "OpenSearch") -> list[dict]:
    """Each model of ours: name, id, state and where it serves (serving/planned nodes, by name)."""
    models = all_owned(client, {"model"})
    names = {n.id: n.name for n in cluster_nodes(client)[2]} if models else {}
    return [{"name": m.name, "id": m.id, "state": m.doc.get("model_state", ""), "serving": serving_text(m.doc, names)}
            for m in models]
