"""Semantic checks of the consumer sections (``rag``, ``agent``, ``ingest``) that JSON Schema cannot express."""

from __future__ import annotations

from typing import Any, Dict, List

from opensearch_llm.blueprint.checks_expect import check_expectation
from opensearch_llm.blueprint.source import KeyPath, Locator
from opensearch_llm.errors import Problem


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _expectations(loc: Locator, smoke: Dict[str, Any], where: KeyPath) -> List[Problem]:
    problems: List[Problem] = []
    for key in ("expect", "follow_up_expect"):
        items = smoke.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if isinstance(item, dict):
                problems += check_expectation(loc, where + ("smoke", key, i), item)
    if "follow_up_expect" in smoke and "follow_up" not in smoke:
        problems.append(loc.problem(where + ("smoke", "follow_up_expect"), "needs smoke.follow_up (the question "
                                                                           "whose answer it checks)"))
    return problems


def _follow_up_needs_memory(loc: Locator, section: Dict[str, Any], where: KeyPath, has_memory: bool) -> List[Problem]:
    if "follow_up" in _dict(section.get("smoke")) and not has_memory:
        return [loc.problem(where + ("smoke", "follow_up"), "a follow-up question needs conversation memory "
                                                            f"(remove it, or turn {where[0]}.memory on)")]
    return []


def _check_rag(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    rag = _dict(data.get("rag"))
    problems = _expectations(loc, _dict(rag.get("smoke")), ("rag",))
    problems += _follow_up_needs_memory(loc, rag, ("rag",), rag.get("memory", True) is not False)
    model = _dict(_dict(data.get("connector")).get("parameters")).get("model")
    if "llm_model" not in rag and not isinstance(model, str):
        problems.append(loc.problem(("rag",), "set rag.llm_model: the connector has no model parameter to send "
                                              "to the upstream"))
    return problems


def _check_agent(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    agent = _dict(data.get("agent"))
    kind = agent.get("type", "conversational_flow")
    problems = _expectations(loc, _dict(agent.get("smoke")), ("agent",))
    if kind == "flow" and agent.get("memory") is True:
        problems.append(loc.problem(("agent", "memory"), "a flow agent has no memory; use type: conversational_flow"))
    memory = kind == "conversational_flow" and agent.get("memory", True) is not False
    return problems + _follow_up_needs_memory(loc, agent, ("agent",), memory)


def _check_ingest(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    ingest = _dict(data.get("ingest"))
    problems = _expectations(loc, _dict(ingest.get("smoke")), ("ingest",))
    source = ingest.get("source_field", "text")
    documents = ingest.get("documents")
    for i, doc in enumerate(documents if isinstance(documents, list) else []):
        if isinstance(doc, dict) and not isinstance(doc.get(source), str):
            problems.append(loc.problem(("ingest", "documents", i), f"needs a text field {source!r} (the "
                                                                    "source_field the pipeline embeds)"))
    if isinstance(documents, list) and not documents:
        problems.append(loc.problem(("ingest", "documents"), "needs at least one document for the k-NN smoke"))
    if ingest.get("vector_field", "embedding") == source:
        problems.append(loc.problem(("ingest", "vector_field"), "must differ from source_field"))
    return problems


def check_consumers(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Every consumer section is coherent (expectations, memory, fields); deploy names nodes or roles, not both."""
    problems: List[Problem] = []
    deploy = _dict(data.get("deploy"))
    if "nodes" in deploy and "roles" in deploy:
        problems.append(loc.problem(("deploy", "roles"), "set deploy.nodes or deploy.roles, not both"))
    for key, check in (("rag", _check_rag), ("agent", _check_agent), ("ingest", _check_ingest)):
        if isinstance(data.get(key), dict):
            problems += check(data, loc)
    rag, ingest = _dict(data.get("rag")), _dict(data.get("ingest"))
    if rag.get("index") and rag.get("index") == ingest.get("index"):
        problems.append(loc.problem(("ingest", "index"), "must differ from rag.index"))
    return problems
