"""Planning the RAG, agent and ingest resources that use the model (pure: facts in, actions out).

Indices are never changed by ``up`` (they hold data); pipelines are updated in place (same name);
an agent that must change is replaced (ML Commons 2.19 has no Update Agent), which gives it a new id.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Optional

from opensearch_llm.blueprint.consumers import STEP_KINDS
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.actions import CREATE, DEPLOY, NOOP, REPLACE, UPDATE, Action
from opensearch_llm.lifecycle.drift import OUTSIDE, pipeline_drift
from opensearch_llm.lifecycle.facts import Facts, Owned
from opensearch_llm.lifecycle.naming import Names, fingerprint

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

KNN_PLUGIN = "opensearch-knn"
# what a rag or ingest section needs beyond ml_full_access (checked on the secured 2.19.1 node for rag)
CONSUMER_PERMISSIONS = ("indices:data/write/bulk and cluster:admin/{search,ingest}/pipeline/{get,put,delete} on the "
                        "cluster; indices:admin/mappings/get on every index; indices:admin/create, indices:admin/delete, "
                        "indices:data/write/bulk*, indices:data/write/index and indices:data/read/search* on the "
                        "blueprint's index")
SECTION_OF = {"ingest_pipeline": "ingest", "ingest_index": "ingest", "rag_index": "rag", "search_pipeline": "rag",
              "agent": "agent"}
SETTING_OF = {"ingest_pipeline": "ingest.pipeline", "ingest_index": "ingest.index", "rag_index": "rag.index",
              "search_pipeline": "rag.pipeline", "agent": "agent.name"}


def consumer_hash(blueprint: "Blueprint", step: str) -> str:
    """The digest of the blueprint section that step ``step`` is built from."""
    return fingerprint(asdict(getattr(blueprint.consumers, SECTION_OF[step])))


def check_capabilities(blueprint: "Blueprint", facts: Facts) -> None:
    """An ingest section needs the k-NN plugin; say so before anything changes."""
    if blueprint.consumers.ingest and KNN_PLUGIN not in facts.plugins:
        raise InvalidInputError(
            f"{blueprint.source}: ingest needs the k-NN plugin ({KNN_PLUGIN}) for its knn_vector field, and this "
            "cluster does not have it", hint=f"install {KNN_PLUGIN} on every data node (opensearch-llm local start "
                                             "installs it), or remove the ingest section")


def check_foreign(facts: Facts, names: Names) -> None:
    """A same-named pipeline or index that is not ours is never reused, changed or deleted."""
    for step, name in facts.foreign_consumers.items():
        kind = STEP_KINDS[step].replace("_", " ")
        article = "an" if kind == "index" else "a"
        raise InvalidInputError(f"{article} {kind} named {name!r} exists but was not created by opensearch-llm; "
                                "it is left alone", hint=f"choose another name: --set {SETTING_OF[step]}=NAME")


def check_permissions(blueprint: "Blueprint", facts: Facts, names: Names) -> None:
    """A caller who may not look at a pipeline or index of the blueprint may not make one either: exit 2 now,
    naming the refused permissions, rather than a 403 half-way through ``up``."""
    if not facts.forbidden_consumers:
        return
    who = facts.caller.user if facts.caller else "this user"
    refused = "; ".join(f"{STEP_KINDS[step].replace('_', ' ')} {name}: {facts.forbidden_consumers[step]}"
                        for step, name in names.consumers if step in facts.forbidden_consumers)
    sections = sorted({SECTION_OF[step] for step in facts.forbidden_consumers})
    raise InvalidInputError(
        f"{blueprint.source}: {who} may not read what the {' and '.join(sections)} section creates ({refused}); "
        "the built-in ml_full_access role does not grant them",
        hint=f"an admin grants this user, next to ml_full_access, {CONSUMER_PERMISSIONS} (the llm_consumers role "
             "in the project's docs/permissions.md)")


def _same_model(found: Owned, model_action: "Action") -> bool:
    return model_action.op in (NOOP, UPDATE, DEPLOY) and bool(model_action.resource_id) \
        and str(model_action.resource_id) in str(found.doc)


def _action(step: str, name: str, found: Optional[Owned], digest: str, model_action: "Action",
            blueprint: Optional["Blueprint"] = None) -> "Action":
    kind = STEP_KINDS[step]
    if found is None:
        return Action(step, CREATE, name, "not found")
    if kind == "index":
        return Action(step, NOOP, name, "exists and is ours (up never changes an index's mappings or documents)",
                      found.id)
    if found.marker.hash == digest and _same_model(found, model_action):
        drift = _drift(blueprint, kind, found, str(model_action.resource_id)) if blueprint else []
        if drift:
            return Action(step, UPDATE, name, f"{OUTSIDE}: updated in place to what the blueprint says", found.id,
                          detail={"drift": drift})
        return Action(step, NOOP, name, "exists with the same configuration", found.id)
    why = "its configuration changed" if found.marker.hash != digest else "it must point at the new model"
    if kind == "agent":
        return Action(step, REPLACE, name, f"{why}: a new agent (new agent_id), then the old one goes", found.id,
                      detail={"kind": kind})
    return Action(step, UPDATE, name, f"{why}: updated in place (same name)", found.id)


def consumer_actions(blueprint: "Blueprint", facts: Facts, names: Names, model_action: "Action") -> list["Action"]:
    """The actions for every consumer resource of ``blueprint``, in creation order."""
    check_capabilities(blueprint, facts)
    check_permissions(blueprint, facts, names)
    check_foreign(facts, names)
    return [_action(step, name, facts.consumers.get(step), consumer_hash(blueprint, step), model_action, blueprint)
            for step, name in names.consumers]


def _drift(blueprint: "Blueprint", kind: str, found: Owned, model_id: str) -> list[str]:
    """Hand edits of a pipeline of ours: its processors against what ``up`` would write (agents: see drift.py)."""
    if kind == "search_pipeline" and blueprint.consumers.rag:
        processors = [blueprint.consumers.rag.processor(model_id)]
    elif kind == "ingest_pipeline" and blueprint.consumers.ingest:
        processors = [blueprint.consumers.ingest.processor(model_id, blueprint.predict.input)]
    else:
        return []
    return [d.text() for d in pipeline_drift(kind, processors, found.doc)]


def flags_detail(flags: Any) -> dict:
    """The plan detail of feature flags a settings write turns on."""
    return {"feature_flags_on": list(flags)} if flags else {}
