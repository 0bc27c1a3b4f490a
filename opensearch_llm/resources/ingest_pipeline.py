"""Ingest pipelines: ``/_ingest/pipeline`` (``ml_inference``, ``text_embedding`` and other processors).

Update policy: ``PUT`` creates or replaces the pipeline in place; documents indexed afterwards go
through the new definition. The ownership marker lives in the pipeline's top-level ``description``.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.resources.common import about, or_none
from opensearch_llm.resources.search_pipeline import marked_pipelines

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "ingest_pipeline"


def put(client: "OpenSearch", name: str, body: dict) -> str:
    """Create or replace the pipeline ``name``; return its name (the pipeline's id)."""
    with about(KIND, name):
        client.ingest.put_pipeline(id=name, body=body)
    return name


def get(client: "OpenSearch", name: str) -> Optional[dict]:
    """The pipeline body, or None."""
    with about(KIND, name):
        found = or_none(lambda: client.ingest.get_pipeline(id=name))
    return (found or {}).get(name)


def list_marked(client: "OpenSearch") -> list[dict]:
    """Pipelines whose description mentions our marker (callers check it exactly)."""
    with about(KIND):
        return marked_pipelines(or_none(lambda: client.ingest.get_pipeline()))


def delete(client: "OpenSearch", name: str) -> bool:
    """Delete; True if it existed. 404 counts as done."""
    with about(KIND, name):
        return or_none(lambda: client.ingest.delete_pipeline(id=name)) is not None
