"""k-NN on the node under test (each line): the plugin is installed, a Lucene ``knn_vector`` index answers a k-NN
query, and a painless script using k-NN's painless extension scores (on 2.x that runs in the lang-painless module
the launcher assembles from Maven Central jars)."""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import pytest

DOCS = {"east": [1.0, 0.0, 0.0], "north": [0.0, 1.0, 0.0], "up": [0.0, 0.0, 1.0]}
MAPPING = {"settings": {"index.knn": True, "number_of_shards": 1, "number_of_replicas": 0},
           "mappings": {"properties": {"vec": {"type": "knn_vector", "dimension": 3,
                                               "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"}}}}}


@pytest.fixture
def knn_index(opensearch_client: Any) -> Iterator[str]:
    """A Lucene k-NN index holding ``DOCS`` (refreshed), deleted afterwards."""
    plugins = {p["component"] for p in opensearch_client.cat.plugins(format="json")}
    assert "opensearch-knn" in plugins, f"opensearch-knn is not installed: {sorted(plugins)}"
    name = f"osllm-test-knn-{uuid.uuid4().hex[:8]}"
    opensearch_client.indices.create(index=name, body=MAPPING)
    try:
        for doc_id, vec in DOCS.items():
            opensearch_client.index(index=name, id=doc_id, body={"vec": vec})
        opensearch_client.indices.refresh(index=name)
        yield name
    finally:
        opensearch_client.indices.delete(index=name, ignore_unavailable=True)
        assert not opensearch_client.indices.exists(index=name)


@pytest.mark.parametrize("vector, nearest", [([0.9, 0.1, 0.0], "east"), ([0.1, 0.8, 0.2], "north"),
                                             ([0.0, 0.2, 0.7], "up")])
def test_a_lucene_knn_index_returns_the_nearest_document(opensearch_client: Any, knn_index: str, vector: list,
                                                         nearest: str) -> None:
    body = {"size": 1, "query": {"knn": {"vec": {"vector": vector, "k": 1}}}}
    hits = opensearch_client.search(index=knn_index, body=body)["hits"]["hits"]
    assert [h["_id"] for h in hits] == [nearest]


def test_painless_scores_with_the_knn_extension(opensearch_client: Any, knn_index: str) -> None:
    script = {"source": "1.0 / (1.0 + l2Squared(params.q, doc['vec']))", "params": {"q": [0.0, 0.1, 0.9]}}
    body = {"size": 3, "query": {"script_score": {"query": {"match_all": {}}, "script": script}}}
    hits = opensearch_client.search(index=knn_index, body=body)["hits"]["hits"]
    assert [h["_id"] for h in hits][0] == "up" and len(hits) == 3
    assert hits[0]["_score"] == pytest.approx(1 / (1 + 0.01 + 0.01))
