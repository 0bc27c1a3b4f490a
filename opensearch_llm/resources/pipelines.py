"""Ingest and search pipelines: ``/_ingest/pipeline`` (``ml_inference``, ``text_embedding`` and other processors) and
``/_search/pipeline`` (RAG and other response processors), one API with two homes.

Update policy: ``PUT`` creates or replaces a pipeline in place; documents indexed afterwards (ingest) and searches
that name it (search) go through the new definition. The ownership marker lives in the pipeline's top-level
``description``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Optional

from opensearch_llm.resources.common import MARKER_TEXT, about, or_none

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


class Pipelines:
    """put / get / list_marked / delete for one kind of pipeline (the interface of a resource module)."""

    def __init__(self, kind: str, namespace: Callable[["OpenSearch"], Any], put: str, get: str, delete: str) -> None:
        self.KIND = kind  # noqa: N815 - the same name as every resource module's KIND
        self._namespace, self._put, self._get, self._delete = namespace, put, get, delete

    def _call(self, client: "OpenSearch", name: str, **kwargs: Any) -> Any:
        return getattr(self._namespace(client), name)(**kwargs)

    def put(self, client: "OpenSearch", name: str, body: dict) -> str:
        """Create or replace the pipeline ``name``; return its name (the pipeline's id)."""
        with about(self.KIND, name):
            self._call(client, self._put, id=name, body=body)
        return name

    def get(self, client: "OpenSearch", name: str) -> Optional[dict]:
        """The pipeline body, or None."""
        with about(self.KIND, name):
            found = or_none(lambda: self._call(client, self._get, id=name))
        return (found or {}).get(name)

    def list_marked(self, client: "OpenSearch") -> list[dict]:
        """Pipelines whose description mentions our marker (callers check it exactly)."""
        with about(self.KIND):
            return marked_pipelines(or_none(lambda: self._call(client, self._get)))

    def delete(self, client: "OpenSearch", name: str) -> bool:
        """Delete; True if it existed. 404 counts as done."""
        with about(self.KIND, name):
            return or_none(lambda: self._call(client, self._delete, id=name)) is not None


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


ingest_pipeline = Pipelines("ingest_pipeline", lambda c: c.ingest, "put_pipeline", "get_pipeline", "delete_pipeline")
search_pipeline = Pipelines("search_pipeline", lambda c: c.search_pipeline, "put", "get", "delete")
