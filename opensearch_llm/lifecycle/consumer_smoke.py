"""Smoke through the consumers: a RAG search, an agent execute, a k-NN query; one check each.

A question asked with memory runs in a conversation memory this run creates (its name carries our
marker, it is journaled) and deletes afterwards, so a smoke leaves no conversation behind.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from opensearch_llm.blueprint.consumers import ConsumerSmoke, Question
from opensearch_llm.blueprint.paths import find_path
from opensearch_llm.errors import OpenSearchLLMError, SmokeError, excerpt
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.lifecycle.naming import Marker, Names, with_marker
from opensearch_llm.resources import agent, index, memory
from opensearch_llm.resources import predict as predict_api

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint


@dataclass
class ConsumerCheck:
    """One consumer check (a JUnit case): its name, outcome, time, answer excerpt and failures."""

    name: str
    ok: bool
    seconds: float
    answer: str = ""
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


@dataclass
class _Probe:
    client: "OpenSearch"
    blueprint: "Blueprint"
    names: Names
    ids: dict
    marker: Marker
    journal: Journal
    options: RunOptions
    checks: list[ConsumerCheck] = field(default_factory=list)

    def record(self, name: str, answer_path: str, call: Callable[[], dict], question: Optional[Question],
               extra: Callable[[dict], list[str]] = lambda _r: []) -> None:
        timer = StepTimer(self.options, f"smoke {name}")
        started = time.perf_counter()
        try:
            response = call()
            failures = extra(response) + (question.check(response) if question else [])
            answer = find_path(response, answer_path)
        except OpenSearchLLMError as exc:
            failures, answer = [str(exc)], ""
        check = ConsumerCheck(name, not failures, time.perf_counter() - started,
                      excerpt(answer if isinstance(answer, str) else str(answer), 200), failures)
        self.checks.append(check)
        timer.done("; ".join(failures) if failures else f"{check.seconds * 1000:.0f} ms: {check.answer!r}",
                   status="failed" if failures else "ok")

    def conversation(self, label: str, smoke: ConsumerSmoke, with_memory: bool, answer_path: str,
                     ask: Callable[[str, Optional[str]], dict]) -> None:
        memory_id = self.new_memory(label) if with_memory else None
        try:
            self.record(label, answer_path, lambda: ask(smoke.question.text, memory_id), smoke.question)
            follow = smoke.follow_up
            if follow:
                self.record(f"{label} follow-up", answer_path, lambda: ask(follow.text, memory_id), follow)
        finally:
            if memory_id:
                memory.delete(self.client, memory_id)
                self.journal.write("deleted", kind="memory", id=memory_id)

    def new_memory(self, label: str) -> str:
        name = with_marker(f"{self.blueprint.name} {label} smoke", self.marker)
        rid = memory.create(self.client, name)
        self.journal.write("created", kind="memory", id=rid, name=name)
        return rid


def _rag(probe: _Probe) -> None:
    spec = probe.blueprint.consumers.rag
    assert spec is not None
    smoke, field_ = spec.smoke, spec.context_fields[0]

    def ask(question: str, memory_id: Optional[str]) -> dict:
        qa: dict[str, Any] = {"llm_question": question, "context_size": smoke.context_size,
                              "timeout": max(1, int(smoke.timeout))}
        if memory_id:
            qa["memory_id"] = memory_id
        body = {"query": {"match": {field_: question}}, "size": smoke.context_size,
                "ext": {"generative_qa_parameters": qa}}
        return index.search(probe.client, probe.names.consumer("rag_index"), body,
                            {"search_pipeline": probe.names.consumer("search_pipeline"),
                             "request_timeout": smoke.timeout})

    probe.conversation("rag", smoke, spec.memory, "ext.retrieval_augmented_generation.answer", ask)


def _agent(probe: _Probe) -> None:
    spec = probe.blueprint.consumers.agent
    assert spec is not None

    def ask(question: str, memory_id: Optional[str]) -> dict:
        params = {"question": question, **({"memory_id": memory_id} if memory_id else {})}
        return agent.execute(probe.client, probe.ids["agent"], params, spec.smoke.timeout)

    probe.conversation("agent", spec.smoke, spec.memory, "inference_results[0].output[-1].result", ask)


def _ingest(probe: _Probe) -> None:
    spec = probe.blueprint.consumers.ingest
    assert spec is not None
    name = probe.names.consumer("ingest_index")

    def vector_dimension(_response: dict) -> list[str]:
        stored = index.search(probe.client, name, {"size": 1, "_source": [spec.vector_field]})
        vector = find_path(stored, f"hits.hits[0]._source.{spec.vector_field}")
        if not isinstance(vector, list) or len(vector) != spec.dimension:
            got = f"{len(vector)} dimensions" if isinstance(vector, list) else repr(excerpt(str(vector), 80))
            return [f"{name}: the pipeline stored {got} in {spec.vector_field}, expected {spec.dimension}"]
        return []

    def knn() -> dict:
        bp = probe.blueprint
        embedded = predict_api.predict(probe.client, probe.ids["model"], {bp.predict.input: [spec.query]},
                                       spec.timeout)
        vector = find_path(embedded.response, bp.predict.answer)
        query = {"size": spec.k, "_source": {"excludes": [spec.vector_field]},
                 "query": {"knn": {spec.vector_field: {"vector": vector, "k": spec.k}}}}
        return index.search(probe.client, name, query)

    probe.record("ingest", "hits.hits[0]._source", knn, Question(spec.query, spec.expect), vector_dimension)


def run_consumer_probes(client: "OpenSearch", blueprint: "Blueprint", names: Names, ids: dict, marker: Marker,
                        journal: Journal, options: RunOptions = RunOptions()) -> list[ConsumerCheck]:
    """Run every consumer check of ``blueprint``; raise :class:`SmokeError` (with ``checks``) if one fails."""
    probe = _Probe(client, blueprint, names, ids, marker, journal, options)
    consumers = blueprint.consumers
    for present, run in ((consumers.ingest, _ingest), (consumers.rag, _rag), (consumers.agent, _agent)):
        if present:
            run(probe)
    failed = [c for c in probe.checks if not c.ok]
    if failed:
        reasons = [f"{c.name}: {f}" for c in failed for f in c.failures]
        error = SmokeError(f"consumer smoke of {blueprint.name} failed: " + "; ".join(reasons), failures=reasons)
        error.checks = probe.checks  # type: ignore[attr-defined]
        raise error
    return probe.checks
