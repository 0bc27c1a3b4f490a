"""Search and ingest pipelines, indices, agents and memories against the ML Commons double.

Each kind: create, get, list_marked, delete round trip; a missing one reads None and deletes False.
"""

from __future__ import annotations

import pytest

from opensearch_llm.errors import ClusterError, InvalidInputError, NotFoundError
from opensearch_llm.resources import agent, index, ingest_pipeline, memory, search_pipeline
from tests.unit.ml_double import MARKER

OURS = f"demo {MARKER}"




@pytest.mark.parametrize("module", [search_pipeline, ingest_pipeline])
def test_pipeline_round_trip(client, module) -> None:
    assert module.list_marked(client) == []  # none at all: OpenSearch answers an empty 404
    body = {"description": OURS, "processors": []}
    assert module.put(client, "rag", body) == "rag"
    module.put(client, "theirs", {"description": "not ours", "processors": []})
    assert module.put(client, "rag", {**body, "processors": [{"x": {}}]}) == "rag"  # replaced in place
    assert module.get(client, "rag") == {**body, "processors": [{"x": {}}]}
    assert [(r["id"], r["name"], r["description"]) for r in module.list_marked(client)] == [("rag", "rag", OURS)]
    assert module.list_marked(client)[0]["doc"]["processors"] == [{"x": {}}]
    assert module.delete(client, "rag") is True
    assert module.get(client, "rag") is None
    assert module.delete(client, "rag") is False


def test_pipeline_kinds_are_apart(double, client) -> None:
    search_pipeline.put(client, "p", {"description": OURS})
    assert ingest_pipeline.get(client, "p") is None and list(double.search_pipelines) == ["p"]


def test_index_round_trip_with_bulk_and_search(double, client) -> None:
    body = {"settings": {"number_of_replicas": 0},
            "mappings": {"_meta": {"opensearch-llm": OURS}, "properties": {"text": {"type": "text"}}}}
    assert index.create(client, "docs", body) == "docs"
    index.create(client, "theirs", {"mappings": {"_meta": {"owner": "someone"}}})
    index.create(client, "plain", {})
    double.add("model", {"name": "m"})  # a system index with its own _meta is skipped
    assert index.get(client, "docs") == {"mappings": body["mappings"]}
    rows = index.list_marked(client)
    assert [(r["id"], r["name"], r["description"]) for r in rows] == [("docs", "docs", OURS)]
    assert rows[0]["doc"] == {"mappings": {"_meta": {"opensearch-llm": OURS}}}
    last = double.requests("GET", "/_mapping$")[-1]
    assert last.path == "/*,-.*/_mapping" and last.params == {"filter_path": "*.mappings._meta"}  # no system index

    ids = index.bulk_index(client, "docs", [{"text": "alpha"}, {"text": "beta"}])
    assert len(ids) == 2 and set(double.user_indices["docs"]["docs"]) == set(ids)
    sent = double.requests("POST", "/docs/_bulk$")[-1]
    assert sent.params == {"refresh": "wait_for"}
    search_pipeline.put(client, "rag", {"description": OURS})
    found = index.search(client, "docs", {"query": {"match": {"text": "beta"}}}, {"search_pipeline": "rag"})
    assert [h["_id"] for h in found["hits"]["hits"]] == ids[1:]
    assert double.requests("POST", "/docs/_search$")[-1].params == {"search_pipeline": "rag"}

    assert index.delete(client, "docs") is True
    assert index.get(client, "docs") is None
    assert index.delete(client, "docs") is False


def test_bulk_with_a_pipeline_sends_it_once(double, client) -> None:
    ingest_pipeline.put(client, "embed", {"description": OURS, "processors": []})
    index.create(client, "docs", {})
    assert index.bulk_index(client, "docs", []) == []  # nothing sent: OpenSearch refuses an empty _bulk
    index.bulk_index(client, "docs", [{"text": "a"}], pipeline="embed")
    assert double.count("POST", "/_bulk$") == 1
    assert double.requests("POST", "/_bulk$")[0].params == {"refresh": "wait_for", "pipeline": "embed"}


def test_bulk_errors_raise_naming_the_first_failure(double, client) -> None:
    index.create(client, "docs", {"mappings": {"properties": {"n": {"type": "integer"}}}})
    with pytest.raises(ClusterError) as caught:
        index.bulk_index(client, "docs", [{"n": 1}, {"n": "many"}, {"n": "more"}])
    err = caught.value
    assert err.kind == "index" and err.resource_id == "docs" and err.status == 400
    assert "2 of 3 documents failed" in err.message and "mapper_parsing_exception" in err.message
    assert "failed to parse field [n]" in err.message
    with pytest.raises(ClusterError, match="pipeline with id \\[nope\\] does not exist"):
        index.bulk_index(client, "docs", [{"n": 1}], pipeline="nope")


def test_index_refuses_expressions_that_name_several(client) -> None:
    for name in ("docs-*", "_all", "a,b", ".plugins-ml-model", ""):
        with pytest.raises(InvalidInputError):
            index.delete(client, name)


def test_agent_round_trip(double, client) -> None:
    double.search_404_until_created = True
    assert agent.list_marked(client) == []  # no agent index yet: 404, read as none
    aid = agent.register(client, {"name": "rag agent", "type": "flow", "description": OURS, "tools": []})
    agent.register(client, {"name": "theirs", "type": "flow", "description": "not ours", "tools": []})
    assert agent.get(client, aid)["name"] == "rag agent"
    rows = agent.list_marked(client)
    assert [(r["id"], r["name"], r["description"]) for r in rows] == [(aid, "rag agent", OURS)]
    assert rows[0]["doc"]["type"] == "flow"
    assert agent.delete(client, aid) is True
    assert agent.get(client, aid) is None
    assert agent.delete(client, aid) is False


def test_agent_execute_passes_the_timeout_and_answers(double, client) -> None:
    double.answer = "forty-two"
    aid = agent.register(client, {"name": "a", "type": "conversational_flow", "description": OURS,
                                  "memory": {"type": "conversation_index"}, "tools": []})
    out = agent.execute(client, aid, {"question": "why?"}, timeout=12.5)["inference_results"][0]["output"]
    assert out[-1] == {"name": "response", "result": "forty-two"}
    mid = out[0]["result"]
    assert [m["response"] for m in memory.messages(client, mid)] == ["forty-two"]
    assert double.requests("POST", "/_execute$")[0].body == {"parameters": {"question": "why?"}}


def test_agent_execute_is_never_resent_after_a_timeout(double, client) -> None:
    aid = agent.register(client, {"name": "a", "type": "flow", "description": OURS, "tools": []})
    double.fail_timeout("POST", "/_execute$")
    with pytest.raises(ClusterError) as caught:
        agent.execute(client, aid, {"question": "q"}, timeout=3)
    assert caught.value.timed_out and "within 3 s" in caught.value.message
    assert caught.value.kind == "agent" and caught.value.resource_id == aid
    assert double.count("POST", "/_execute$") == 1


def test_agent_execute_of_a_missing_agent_is_not_found(client) -> None:
    with pytest.raises(NotFoundError):
        agent.execute(client, "missing", {}, timeout=5)


def test_memory_round_trip_with_pages(double, client, monkeypatch) -> None:
    assert memory.delete(client, "never") is False  # no memory index yet: the cluster would say success
    mid = memory.create(client, f"chat {MARKER}")
    memory.create(client, "someone else's chat")
    for n in range(3):
        memory.create(client, f"older {n} {MARKER}")
    assert memory.get(client, mid)["name"] == f"chat {MARKER}"
    monkeypatch.setattr(memory, "PAGE", 2)
    rows = memory.list_marked(client)
    assert len(rows) == 4 and mid in {r["id"] for r in rows}
    assert all(r["description"] == r["name"] == r["doc"]["name"] for r in rows)
    assert [r.params.get("next_token") for r in double.requests("GET", "/_ml/memory$")] == [None, "2", "4"]
    assert memory.messages(client, mid) == []
    assert memory.delete(client, mid) is True
    assert memory.get(client, mid) is None
    assert memory.delete(client, mid) is False
    with pytest.raises(NotFoundError):
        memory.messages(client, mid)


def test_memory_delete_that_leaves_messages_raises(double, client) -> None:
    mid = memory.create(client, OURS)
    double.fail_status("DELETE", "/_ml/memory/", 200, body={"success": False})
    with pytest.raises(ClusterError, match="messages may not have been"):
        memory.delete(client, mid)
