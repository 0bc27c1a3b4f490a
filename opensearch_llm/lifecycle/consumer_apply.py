"""Create the RAG, agent and ingest resources after the model is DEPLOYED (part of ``apply``).

A pipeline's or index's name is known beforehand, so it is journaled before the request that
creates it (a delete of something missing is fine); an agent's id is journaled as soon as it is
known, and a lost answer is resolved by looking the agent up by name and run, as for the model.
"""

from __future__ import annotations

from typing import Any

from opensearch_llm.blueprint.consumers import STEP_KINDS
from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.consumer_plan import consumer_hash
from opensearch_llm.lifecycle.events import StepTimer
from opensearch_llm.lifecycle.naming import provisioned_by, with_marker
from opensearch_llm.lifecycle.provisioned import RunInProgress
from opensearch_llm.lifecycle.plan import CREATE, NOOP, REPLACE, UPDATE, Action
from opensearch_llm.lifecycle.teardown import delete_one
from opensearch_llm.resources import agent, index, ingest_pipeline, search_pipeline


MARKER_KEY = "opensearch-llm"


def provision_consumers(run: RunInProgress) -> None:
    """Execute every consumer action of ``run``'s plan, in plan order."""
    steps = {step for step, _name in run.plan.names.consumers}
    for action in run.plan.actions:
        if action.step in steps:
            _one(run, action)


def _one(run: RunInProgress, action: Action) -> None:
    timer = StepTimer(run.options, action.step.replace("_", " "))
    kind = STEP_KINDS[action.step]
    if action.op == NOOP:
        run.result.ids[action.step] = action.resource_id or action.name
        timer.done(f"{action.name} (exists)")
        return
    description = with_marker(run.bp.description, run.marker(consumer_hash(run.bp, action.step)))
    if kind == "agent":
        _agent(run, action, description)
    else:
        if action.op == CREATE:  # the name is the id: journaled first, so a lost answer is still cleaned up
            run.created(kind, action.name, action.name, step=action.step)
        BUILDERS[action.step](run, action.name, description)
        run.result.ids[action.step] = action.name
        if action.op == UPDATE:
            run.result.updated.append(action.step)
            run.result.changed = True
    timer.done(f"{action.name} ({'updated in place' if action.op == UPDATE else 'created'})")


def _model_id(run: RunInProgress) -> str:
    return run.result.ids["model"]


def _ingest_pipeline(run: RunInProgress, name: str, description: str) -> None:
    spec = run.bp.consumers.ingest
    assert spec is not None
    processor = spec.processor(_model_id(run), run.bp.predict.input)
    ingest_pipeline.put(run.client, name, {"description": description, "processors": [processor]})


def _ingest_index(run: RunInProgress, name: str, description: str) -> None:
    spec = run.bp.consumers.ingest
    assert spec is not None
    body = spec.index_body()
    body["settings"]["index.default_pipeline"] = run.plan.names.consumer("ingest_pipeline")
    body["mappings"]["_meta"] = {MARKER_KEY: description}
    index.create(run.client, name, body)
    try:
        index.bulk_index(run.client, name, list(spec.documents))  # through the default pipeline: embedded
    except ClusterError as exc:
        exc.hint = exc.hint or (f"the ingest pipeline embeds {spec.source_field} with the model into the "
                                f"{spec.dimension}-dimension field {spec.vector_field}: check that ingest.dimension "
                                "is the model's vector dimension and that the model answers _predict")
        raise


def _rag_index(run: RunInProgress, name: str, description: str) -> None:
    spec = run.bp.consumers.rag
    assert spec is not None
    index.create(run.client, name, {"mappings": {**spec.mappings, "_meta": {MARKER_KEY: description}}})
    if spec.documents:
        index.bulk_index(run.client, name, list(spec.documents))


def _search_pipeline(run: RunInProgress, name: str, description: str) -> None:
    spec = run.bp.consumers.rag
    assert spec is not None
    search_pipeline.put(run.client, name, {"description": description,
                                           "response_processors": [spec.processor(_model_id(run))]})


def _agent(run: RunInProgress, action: Action, description: str) -> None:
    spec = run.bp.consumers.agent
    assert spec is not None
    if action.op == REPLACE and action.resource_id:
        delete_one(run.client, "agent", action.resource_id, run.options)
        run.journal.write("deleted", kind="agent", id=action.resource_id)
    body = {**spec.body(_model_id(run), description), **provisioned_by(run.plan.cluster_version)}
    rid = run.create_or_find("agent", action.name, lambda: agent.register(run.client, body))
    run.created("agent", rid, action.name, step=action.step)


BUILDERS: dict[str, Any] = {"ingest_pipeline": _ingest_pipeline, "ingest_index": _ingest_index,
                            "rag_index": _rag_index, "search_pipeline": _search_pipeline}
