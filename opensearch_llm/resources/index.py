"""Indices: ``/<name>``, ``/<name>/_bulk``, ``/<name>/_search`` (the documents a RAG pipeline searches).

Update policy: mappings only grow, so a changed body means replace (delete and create again, then
index the documents again). The ownership marker lives in ``mappings._meta.opensearch-llm``.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError, InvalidInputError
from opensearch_llm.resources.common import about, or_none
from opensearch_llm.resources.common import MARKER_TEXT
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "index"


def create(client: "OpenSearch", name: str, body: dict) -> str:
    """Create the index from ``{"settings", "mappings"}``; return its name."""
    with about(KIND, name):
        client.indices.create(index=_single(name), body=body)
    return name


def get(client: "OpenSearch", name: str) -> Optional[dict]:
    """``{"mappings": ...}`` of the index, or None."""
    with about(KIND, name):
        found = or_none(lambda: client.indices.get_mapping(index=name))
    return {"mappings": found[name].get("mappings", {})} if found and name in found else None


def list_marked(client: "OpenSearch") -> list[dict]:
    """Indices whose ``_meta.opensearch-llm`` holds a marker (``filter_path`` drops those with no ``_meta``).

    System and hidden indices (``.``) are skipped."""
    with about(KIND):
        # every index but the dot-prefixed (system) ones, which a search of ours must not touch
        found = client.indices.get_mapping(index="*,-.*", filter_path="*.mappings._meta") or {}
    rows = []
    for name, entry in found.items():
        marker = ((entry or {}).get("mappings") or {}).get("_meta", {}).get(MARKER_TEXT)
        if not name.startswith(".") and isinstance(marker, str) and MARKER_TEXT in marker:
            rows.append({"id": name, "name": name, "description": marker, "doc": entry})
    return rows


def delete(client: "OpenSearch", name: str) -> bool:
    """Delete; True if it existed. 404 counts as done. Never a wildcard, ``_all`` or a system index."""
    with about(KIND, name):
        return or_none(lambda: client.indices.delete(index=_single(name))) is not None


def bulk_index(client: "OpenSearch", name: str, documents: list[dict], pipeline: Optional[str] = None) -> list[str]:
    """Index ``documents`` in one ``_bulk`` (ids generated, ``refresh=wait_for``); return their ids in order.

    Sent once (a ``_bulk`` with generated ids is not idempotent). Any failed item raises ClusterError
    naming the first failure; the items that succeeded stay indexed.
    """
    if not documents:
        return []  # OpenSearch refuses an empty _bulk
    lines = [part for doc in documents for part in ({"index": {}}, doc)]
    params = {"refresh": "wait_for", **({"pipeline": pipeline} if pipeline else {})}
    with about(KIND, name):
        answer = client.bulk(body=lines, index=_single(name), params=params)
    items = [next(iter(item.values())) for item in answer.get("items", [])]
    if answer.get("errors"):
        failed = [item for item in items if item.get("error")] or [{}]
        error = failed[0].get("error") or {}
        reason = _reason(error)
        raise ClusterError(mask_text(f"{len(failed)} of {len(items)} documents failed to index; first: {reason}"),
                           kind=KIND, resource_id=name, method="POST", path=f"/{name}/_bulk",
                           status=failed[0].get("status"))
    return [item["_id"] for item in items]


def _reason(error: object) -> str:
    """``type: reason`` of a bulk item error, with its innermost ``caused_by`` (where the real cause is)."""
    if not isinstance(error, dict):
        return str(error)
    text, cause = f"{error.get('type')}: {error.get('reason')}", error.get("caused_by")
    while isinstance(cause, dict) and isinstance(cause.get("caused_by"), dict):
        cause = cause["caused_by"]
    return text + (f"; caused by {cause.get('type')}: {cause.get('reason')}" if isinstance(cause, dict) else "")


def search(client: "OpenSearch", name: str, body: dict, params: Optional[dict] = None) -> dict:
    """``POST /<name>/_search``; ``params`` e.g. ``{"search_pipeline": "rag"}``."""
    with about(KIND, name):
        return client.search(index=name, body=body, params=params)


def _single(name: str) -> str:
    if not name or name.startswith(("_", "-", ".")) or any(c in name for c in "*?,"):
        raise InvalidInputError(f"not a single index name: {name!r}")
    return name
