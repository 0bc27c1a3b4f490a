"""Search pipelines: ``/_search/pipeline`` (RAG and other response processors).

Update policy: ``PUT`` creates or replaces the pipeline in place; searches that name it pick up the
new definition at once. The ownership marker lives in the pipeline's top-level ``description``.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.resources.common import about, or_none

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "search_pipeline"
MARKER_TEXT = "opensearch-llm"  # what every ownership marker contains (common.MARKER_QUERY)


def put(client: "OpenSearch", name: str, body: dict) -> str:
    """Create or replace the pipeline ``name``; return its name (the pipeline's id)."""
    with about(KIND, name):
        client.search_pipeline.put(id=name, body=body)
    return name


def get(client: "OpenSearch", name: str) -> Optional[dict]:
    """The pipeline body, or None."""
    with about(KIND, name):
        found = or_none(lambda: client.search_pipeline.get(id=name))
    return (found or {}).get(name)


def list_marked(client: "OpenSearch") -> list[dict]:
    """Pipelines whose description mentions our marker (callers check it exactly)."""
    with about(KIND):
        return marked_pipelines(or_none(lambda: client.search_pipeline.get()))


def delete(client: "OpenSearch", name: str) -> bool:
    """Delete; True if it existed. 404 counts as done."""
    with about(KIND, name):
        return or_none(lambda: client.search_pipeline.delete(id=name)) is not None


def marked_pipelines(found: Optional[dict]) -> list[dict]:
    """``{name: body}`` of a pipeline listing as ``{"id", "name", "description", "doc"}`` rows of ours.

    OpenSearch answers 404 with ``{}`` when no pipeline exists at all.
    """
    rows = []
    for name, body in (found or {}).items():
        description = body.get("description") if isinstance(body, dict) else None
        if isinstance(description, str) and MARKER_TEXT in description:
            rows.append({"id": name, "name": name, "description": description, "doc": body})
    return rows
