"""Consumers of the model inside OpenSearch: a RAG search pipeline, an agent, an embedding ingest pipeline.

Each section of a blueprint (``rag``, ``agent``, ``ingest``) becomes a frozen spec here; the
lifecycle creates the resources after the model and proves the model works through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from opensearch_llm.blueprint.expectations import DEFAULT_TIMEOUT, Expectation, parse_duration

RAG_ANSWER = "ext.retrieval_augmented_generation.answer"
AGENT_ANSWER = "inference_results[0].output[-1].result"
NEAREST = "hits.hits[0]._source"
MEMORY_FLAG = "plugins.ml_commons.memory_feature_enabled"
RAG_FLAG = "plugins.ml_commons.rag_pipeline_feature_enabled"
AGENT_FLAG = "plugins.ml_commons.agent_framework_enabled"


@dataclass(frozen=True)
class Question:
    """One question of a consumer smoke and what its answer must satisfy."""

    text: str
    expect: Tuple[Expectation, ...]

    def check(self, response: Dict[str, Any]) -> List[str]:
        """Every failure reason for ``response``."""
        return [reason for reason in (e.check(response) for e in self.expect) if reason]


@dataclass(frozen=True)
class ConsumerSmoke:
    """A question, an optional follow-up in the same memory, and the timeout of each call."""

    question: Question
    follow_up: Optional[Question] = None
    timeout: float = DEFAULT_TIMEOUT
    context_size: int = 3


@dataclass(frozen=True)
class RagSpec:
    """An index with seed documents and a search pipeline with the ``retrieval_augmented_generation`` processor."""

    index: str
    pipeline: str
    context_fields: Tuple[str, ...]
    mappings: Dict[str, Any]
    documents: Tuple[Dict[str, Any], ...]
    llm_model: str
    smoke: ConsumerSmoke
    memory: bool = True
    system_prompt: Optional[str] = None
    user_instructions: Optional[str] = None

    def processor(self, model_id: str) -> Dict[str, Any]:
        """The processor's configuration for ``model_id``."""
        config: Dict[str, Any] = {"model_id": model_id, "llm_model": self.llm_model,
                                  "context_field_list": list(self.context_fields)}
        for key in ("system_prompt", "user_instructions"):
            if getattr(self, key):
                config[key] = getattr(self, key)
        return {"retrieval_augmented_generation": config}

    @property
    def flags(self) -> Tuple[str, ...]:
        """The ML Commons feature flags this consumer needs on."""
        return (RAG_FLAG, MEMORY_FLAG) if self.memory else (RAG_FLAG,)


@dataclass(frozen=True)
class AgentSpec:
    """A flow or conversational_flow agent whose one tool (``MLModelTool``) is the model."""

    name: str
    type: str
    description: str
    tool_name: str
    tool_parameters: Dict[str, Any]
    smoke: ConsumerSmoke
    memory: bool = True

    def body(self, model_id: str, description: str) -> Dict[str, Any]:
        """The register body for ``model_id`` (``description`` carries the ownership marker)."""
        tool = {"type": "MLModelTool", "name": self.tool_name, "description": f"answers with {self.name}'s model",
                "parameters": {**self.tool_parameters, "model_id": model_id}}
        body: Dict[str, Any] = {"name": self.name, "type": self.type, "description": description, "tools": [tool]}
        if self.memory:
            body.update(app_type="opensearch-llm", memory={"type": "conversation_index"})
        return body

    @property
    def flags(self) -> Tuple[str, ...]:
        """The ML Commons feature flags this consumer needs on."""
        return (AGENT_FLAG, MEMORY_FLAG) if self.memory else (AGENT_FLAG,)


@dataclass(frozen=True)
class IngestSpec:
    """An ``ml_inference`` ingest pipeline embedding ``source_field`` into a Lucene ``knn_vector`` field."""

    index: str
    pipeline: str
    source_field: str
    vector_field: str
    dimension: int
    space_type: str
    documents: Tuple[Dict[str, Any], ...]
    query: str
    k: int
    expect: Tuple[Expectation, ...]
    timeout: float = DEFAULT_TIMEOUT

    def processor(self, model_id: str, input_name: str) -> Dict[str, Any]:
        """The ``ml_inference`` processor for ``model_id``: the field's text in (as the model's ``input_name``
        parameter), the first vector out."""
        # a JSON path with .. reads the field as a list, which ML Commons passes on as a JSON array (escaped by
        # gson): the connector's ${parameters.input} takes it unquoted; a plain field name would pass bare text
        return {"ml_inference": {
            "model_id": model_id, "full_response_path": True,
            "input_map": [{input_name: f"$..{self.source_field}"}],
            "output_map": [{self.vector_field: "$.inference_results[0].output[0].data"}],
        }}

    def index_body(self) -> Dict[str, Any]:
        """Settings and mappings of the k-NN index (its default pipeline embeds every document)."""
        return {"settings": {"index.knn": True, "index.default_pipeline": self.pipeline},
                "mappings": {"properties": {
                    self.source_field: {"type": "text"},
                    self.vector_field: {"type": "knn_vector", "dimension": self.dimension,
                                        "method": {"name": "hnsw", "engine": "lucene", "space_type": self.space_type}},
                }}}


@dataclass(frozen=True)
class Consumers:
    """The optional consumer sections of a blueprint."""

    rag: Optional[RagSpec] = None
    agent: Optional[AgentSpec] = None
    ingest: Optional[IngestSpec] = None

    def __bool__(self) -> bool:
        return any((self.rag, self.agent, self.ingest))

    @property
    def names(self) -> Tuple[Tuple[str, str], ...]:
        """(step, name) of every consumer resource, in creation order (see :func:`consumer_names`)."""
        out: List[Tuple[str, str]] = []
        if self.ingest:
            out += [("ingest_pipeline", self.ingest.pipeline), ("ingest_index", self.ingest.index)]
        if self.rag:
            out += [("rag_index", self.rag.index), ("search_pipeline", self.rag.pipeline)]
        if self.agent:
            out.append(("agent", self.agent.name))
        return tuple(out)

    @property
    def flags(self) -> Tuple[str, ...]:
        """Every feature flag the consumers need, once each."""
        found: List[str] = []
        for spec in (self.rag, self.agent):
            for flag in spec.flags if spec else ():
                if flag not in found:
                    found.append(flag)
        return tuple(found)


def _expectations(items: Any, default_path: str) -> Tuple[Expectation, ...]:
    if not items:
        return (Expectation(path=default_path, not_empty=True),)
    return tuple(Expectation(**item) for item in items)


def _smoke(raw: Dict[str, Any], answer: str) -> ConsumerSmoke:
    follow = raw.get("follow_up")
    return ConsumerSmoke(
        question=Question(raw["question"], _expectations(raw.get("expect"), answer)),
        follow_up=Question(follow, _expectations(raw.get("follow_up_expect"), answer)) if follow else None,
        timeout=parse_duration(raw["timeout"]) if "timeout" in raw else DEFAULT_TIMEOUT,
        context_size=int(raw.get("context_size", 3)),
    )


def _rag(raw: Dict[str, Any], default_model: str) -> RagSpec:
    fields = tuple(raw.get("context_fields") or ("text",))
    mappings = raw.get("mappings") or {"properties": {f: {"type": "text"} for f in fields}}
    return RagSpec(index=raw["index"], pipeline=raw.get("pipeline") or raw["index"], context_fields=fields,
                   mappings=mappings, documents=tuple(raw.get("documents") or ()),
                   llm_model=raw.get("llm_model") or default_model, smoke=_smoke(raw["smoke"], RAG_ANSWER),
                   memory=raw.get("memory", True) is not False, system_prompt=raw.get("system_prompt"),
                   user_instructions=raw.get("user_instructions"))


def _agent(raw: Dict[str, Any], name: str, description: str) -> AgentSpec:
    kind = raw.get("type", "conversational_flow")
    tool = raw.get("tool") or {}
    return AgentSpec(name=raw.get("name") or name, type=kind, description=raw.get("description", description),
                     tool_name=tool.get("name", "answer"), tool_parameters=dict(tool.get("parameters") or {}),
                     smoke=_smoke(raw["smoke"], AGENT_ANSWER),
                     memory=kind == "conversational_flow" and raw.get("memory", True) is not False)


def _ingest(raw: Dict[str, Any]) -> IngestSpec:
    smoke = raw["smoke"]
    return IngestSpec(index=raw["index"], pipeline=raw.get("pipeline") or raw["index"],
                      source_field=raw.get("source_field", "text"), vector_field=raw.get("vector_field", "embedding"),
                      dimension=int(raw["dimension"]), space_type=raw.get("space_type", "l2"),
                      documents=tuple(raw["documents"]), query=smoke["query"], k=int(smoke.get("k", 1)),
                      expect=_expectations(smoke.get("expect"), NEAREST),
                      timeout=parse_duration(smoke["timeout"]) if "timeout" in smoke else DEFAULT_TIMEOUT)


def build_consumers(data: Dict[str, Any]) -> Consumers:
    """The consumer specs of validated, interpolated blueprint ``data``."""
    name, description = data["blueprint"], data.get("description", "")
    model = (data.get("connector") or {}).get("parameters", {}).get("model")
    return Consumers(
        rag=_rag(data["rag"], model if isinstance(model, str) else "") if "rag" in data else None,
        agent=_agent(data["agent"], name, description) if "agent" in data else None,
        ingest=_ingest(data["ingest"]) if "ingest" in data else None,
    )


STEP_KINDS = {"ingest_pipeline": "ingest_pipeline", "ingest_index": "index", "rag_index": "index",
              "search_pipeline": "search_pipeline", "agent": "agent"}


def consumer_names(data: Dict[str, Any]) -> Tuple[Tuple[str, str], ...]:
    """(step, name) of every consumer resource a blueprint's ``up`` creates, in creation order (the kind of a
    step is :data:`STEP_KINDS`); read from raw data, so no secret is needed."""
    out: List[Tuple[str, str]] = []
    rag, ingest, agent = (data.get(k) if isinstance(data.get(k), dict) else None for k in ("rag", "ingest", "agent"))
    if ingest and isinstance(ingest.get("index"), str):
        out += [("ingest_pipeline", ingest.get("pipeline") or ingest["index"]), ("ingest_index", ingest["index"])]
    if rag and isinstance(rag.get("index"), str):
        out += [("rag_index", rag["index"]), ("search_pipeline", rag.get("pipeline") or rag["index"])]
    if agent is not None:
        out.append(("agent", agent.get("name") or data.get("blueprint", "")))
    return tuple(out)
