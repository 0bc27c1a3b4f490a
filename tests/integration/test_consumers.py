"""The model where it is used: RAG search pipeline, agent with memory, embedding ingest with k-NN, on a real node.

Every test ends with none of our resources (pipelines, agents, memories and indices included) and the
settings as they were; the fakes' request logs show what reached the upstream.
"""

from __future__ import annotations

import json
import subprocess
import xml.etree.ElementTree as ET
from typing import Any

import pytest

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import fault_case, ours

RAG = str(CONNECTORS / "deepseek-rag.yaml")
AGENT = str(CONNECTORS / "ollama-agent.yaml")
EMBED = str(CONNECTORS / "ollama-embed.yaml")
EMBED_8 = ("--set", "smoke.expect[0].length=8", "--set", "ingest.dimension=8")  # the fake's vectors
PASSAGE = "Project Aurora launches on 12 March 2027."


def chat_bodies(fake: Any, suffix: str) -> list[dict]:
    return [r.json for r in fake.requests if r.path.endswith(suffix) and isinstance(r.json, dict)]


def text_of(body: dict) -> str:
    return json.dumps(body.get("messages", []))


def test_smoke_through_rag_and_agent_with_a_junit_case_per_check(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                                 fake_ollama: Any, tmp_path: Any) -> None:
    report = tmp_path / "smoke.xml"
    result = cli("smoke", RAG, AGENT, "--junit", str(report))
    assert result.code == 0, result
    cases = {(c.get("classname"), c.get("name")): c for c in ET.parse(report).getroot().iter("testcase")}
    assert set(cases) == {("opensearch_llm.smoke", "deepseek-rag"), ("opensearch_llm.smoke", "ollama-agent"),
                          ("opensearch_llm.smoke.deepseek-rag", "rag"),
                          ("opensearch_llm.smoke.deepseek-rag", "rag follow-up"),
                          ("opensearch_llm.smoke.ollama-agent", "agent"),
                          ("opensearch_llm.smoke.ollama-agent", "agent follow-up")}
    assert not any(c.find("failure") is not None for c in cases.values())

    rag_calls = [b for b in chat_bodies(fake_deepseek, "/chat/completions") if "QUESTION:" in text_of(b)]
    first, follow = rag_calls
    assert PASSAGE in text_of(first) and first["model"] == "deepseek-flash"  # the retrieved passage reached it
    assert "When does Project Aurora launch?" in text_of(follow)  # the history reached it
    assert "SEARCH RESULT" not in text_of(follow) and "What did I just ask you about?" in text_of(follow)
    agent_calls = [b for b in chat_bodies(fake_ollama, "/api/chat") if "Red Planet" in text_of(b)]
    assert "Below is Chat History" in text_of(agent_calls[-1]) and len(agent_calls) == 2


def test_smoke_through_ingest_checks_dimension_and_nearest(cli: Cli, clean_cluster: Any, fake_ollama: Any,
                                                           tmp_path: Any) -> None:
    report = tmp_path / "smoke.xml"
    result = cli("smoke", EMBED, *EMBED_8, "--junit", str(report))
    assert result.code == 0, result
    names = [c.get("name") for c in ET.parse(report).getroot().iter("testcase")]
    assert names == ["ollama-embed", "ingest"]
    embedded = [r.json["input"] for r in fake_ollama.requests if r.path.endswith("/api/embed")]
    assert [PASSAGE] in embedded  # the seed document through the pipeline, and the query through _predict
    wrong = cli("smoke", EMBED, "--set", "smoke.expect[0].length=8", "--set", "ingest.dimension=16")
    assert wrong.code == 1 and "check that ingest.dimension is the model's vector dimension" in wrong.out, wrong


def test_up_rag_then_curl_searches_through_the_pipeline_and_down_removes_it(cli: Cli, clean_cluster: Any,
                                                                           opensearch_url: str) -> None:
    assert cli("up", RAG).code == 0
    try:
        query = {"query": {"match": {"text": "When does Project Aurora launch?"}}, "size": 3,
                 "ext": {"generative_qa_parameters": {"llm_question": "When does Project Aurora launch?",
                                                      "context_size": 3}}}
        out = subprocess.run(["curl", "-s", "-X", "POST", "-H", "Content-Type: application/json",
                              f"{opensearch_url}/deepseek-rag-docs/_search?search_pipeline=deepseek-rag",
                              "-d", json.dumps(query)], capture_output=True, text=True, timeout=60, check=True)
        answer = json.loads(out.stdout)["ext"]["retrieval_augmented_generation"]["answer"]
        assert answer == f"From the search results: {PASSAGE}"
        kinds = sorted(r["kind"] for r in ours(clean_cluster))
        assert kinds == ["connector", "index", "model", "model_group", "search_pipeline"]
    finally:
        down = cli("down", RAG)
    assert down.code == 0, down


def test_hand_made_pipeline_agent_and_index_survive_down_and_sweep(cli: Cli, clean_cluster: Any) -> None:
    client = clean_cluster
    assert cli("up", AGENT, "--no-smoke").code == 0
    model_id = next(r["id"] for r in ours(client) if r["kind"] == "model")
    client.indices.create(index="hand-made-docs", body={"mappings": {"properties": {"text": {"type": "text"}}}})
    client.transport.perform_request("PUT", "/_search/pipeline/hand-made-rag", body={
        "description": "made by hand", "response_processors": [{"retrieval_augmented_generation": {
            "model_id": model_id, "llm_model": "llama3.2:1b", "context_field_list": ["text"]}}]})
    agent_id = client.transport.perform_request("POST", "/_plugins/_ml/agents/_register", body={
        "name": "hand-made", "type": "flow", "description": "made by hand",
        "tools": [{"type": "MLModelTool", "parameters": {"model_id": model_id}}]})["agent_id"]
    try:
        assert cli("down", AGENT).code == 0
        assert cli("sweep", "--include-up", "--yes").code == 0
        assert client.indices.exists(index="hand-made-docs")
        assert "hand-made-rag" in client.transport.perform_request("GET", "/_search/pipeline/hand-made-rag")
        assert client.transport.perform_request("GET", f"/_plugins/_ml/agents/{agent_id}")["name"] == "hand-made"
    finally:
        client.indices.delete(index="hand-made-docs", ignore=[404])
        client.transport.perform_request("DELETE", "/_search/pipeline/hand-made-rag")
        client.transport.perform_request("DELETE", f"/_plugins/_ml/agents/{agent_id}")


CONSUMER_STEPS = {
    "rag_index": (RAG, "PUT", r"^/deepseek-rag-docs(\?|$)"),
    "seed_bulk": (RAG, "POST", r"/deepseek-rag-docs/_bulk"),
    "search_pipeline": (RAG, "PUT", r"/_search/pipeline/"),
    "memory": (RAG, "POST", r"/_plugins/_ml/memory(\?|$)"),
    "rag_search": (RAG, "POST", r"/_search\?.*search_pipeline="),
    "delete_search_pipeline": (RAG, "DELETE", r"/_search/pipeline/"),
    "delete_index": (RAG, "DELETE", r"^/deepseek-rag-docs(\?|$)"),
    "agent_register": (AGENT, "POST", r"/agents/_register"),
    "agent_execute": (AGENT, "POST", r"/_execute"),
    "delete_agent": (AGENT, "DELETE", r"/_plugins/_ml/agents/"),
    "ingest_pipeline": (EMBED, "PUT", r"/_ingest/pipeline/"),
    "delete_ingest_pipeline": (EMBED, "DELETE", r"/_ingest/pipeline/"),
}


@pytest.mark.parametrize("fault", ["5xx", "reset"])
@pytest.mark.parametrize("step", list(CONSUMER_STEPS))
def test_fault_at_a_consumer_step_leaves_nothing(step: str, fault: str, proxied_cli: Cli, fault_proxy: Any,
                                                 opensearch_client: Any) -> None:
    blueprint, method, path = CONSUMER_STEPS[step]
    rule = Rule(method=method, path=path, count=1, **({"status": 500} if fault == "5xx" else {"reset": True}))
    fault_case(step, fault, rule, proxied_cli, fault_proxy, opensearch_client,
               (blueprint, *(EMBED_8 if blueprint == EMBED else ())), timeout="5")
