"""Who uses a model by its ``model_id``: search pipelines, ingest pipelines and agents found in the cluster.

A replace gives the model a new ``model_id``; ``plan`` names these consumers beforehand, since every
one of them breaks for good when the old model goes.
"""

from __future__ import annotations

import dataclasses
import json
from typing import TYPE_CHECKING, Any, Callable, Container

from opensearch_llm.errors import ClusterError, NotFoundError
from opensearch_llm.lifecycle.plan import Plan

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


def _named(kind: str, found: Any, model_id: str, skip: Container[str]) -> list[str]:
    if not isinstance(found, dict):
        return []
    return [f"{kind} {name}" for name, doc in found.items()
            if name not in skip and model_id in json.dumps(doc, default=str)]


def _agents(client: "OpenSearch", model_id: str, skip: Container[str]) -> list[str]:
    found = client.plugins.ml.search_agents(body={"query": {"match_all": {}}, "size": 1000})
    return [f"agent {h['_source'].get('name', h['_id'])} ({h['_id']})" for h in found.get("hits", {}).get("hits", [])
            if h.get("_source", {}).get("name") not in skip and model_id in json.dumps(h.get("_source", {}), default=str)]


def consumers(client: "OpenSearch", model_id: str, skip: Container[str] = ()) -> list[str]:
    """Every search pipeline, ingest pipeline and agent whose definition mentions ``model_id``, but those named
    in ``skip``."""
    lookups: list[Callable[[], list[str]]] = [
        lambda: _named("search pipeline", client.transport.perform_request("GET", "/_search/pipeline"), model_id,
                       skip),
        lambda: _named("ingest pipeline", client.ingest.get_pipeline(), model_id, skip),
        lambda: _agents(client, model_id, skip),
    ]
    found: list[str] = []
    for lookup in lookups:
        try:
            found += lookup()
        except NotFoundError:  # no such index or API on this cluster: nothing of that kind uses the model
            continue
        except ClusterError as exc:  # a 403 or 5xx says nothing about who uses the model: never understate
            exc.hint = ("the replace warning needs every consumer of the model; " + (exc.hint or "")
                        + " (docs/permissions.md lists what plan reads)").strip()
            raise
    return found


def with_consumers(client: "OpenSearch", plan: Plan) -> Plan:
    """``plan`` with the consumers of the model it would replace named in that action's detail."""
    actions = []
    ours = {name for _step, name in plan.names.consumers}  # up points them at the new model itself
    for action in plan.actions:
        if action.step == "model" and action.resource_id and "consumers" in action.detail:
            detail = {**action.detail, "consumers": consumers(client, action.resource_id, ours)}
            action = dataclasses.replace(action, detail=detail)
        actions.append(action)
    return dataclasses.replace(plan, actions=tuple(actions))


def replace_message(plan: Plan) -> str:
    """Why ``up`` stops before a replace, with the consumers that would break."""
    action = plan.action("model")
    if action.op != "replace":
        agent = plan.action("agent")
        return (f"agent {agent.name} [{agent.resource_id}] would be replaced with a new agent_id ({agent.reason}); "
                "whoever executes it by id must switch to the new one")
    used = action.detail.get("consumers") or []
    who = f"; it is used by: {', '.join(used)}" if used else "; no pipeline or agent in this cluster uses it"
    return f"model {action.name} [{action.resource_id}] would be replaced with a new model_id ({action.reason}){who}"
