"""Model groups: ``/_plugins/_ml/model_groups``.

Update policy: a model group carries only a name and description; an existing one of ours
with the same name is reused (no-op). It is never deleted with its last model, so teardown
deletes it explicitly.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.resources.common import MARKER_QUERY, about, or_none, search

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "model group"


def create(client: "OpenSearch", name: str, description: str, access: Optional[dict] = None) -> str:
    """Register a model group (``access``: ``access_mode``, ``backend_roles``, ``add_all_backend_roles``);
    return its id."""
    with about(KIND):
        return client.plugins.ml.register_model_group(
            body={"name": name, "description": description, **(access or {})})["model_group_id"]


def get(client: "OpenSearch", group_id: str) -> Optional[dict]:
    """The model group document, or None."""
    with about(KIND, group_id):
        return or_none(lambda: client.plugins.ml.get_model_group(model_group_id=group_id))


def update(client: "OpenSearch", group_id: str, description: str) -> None:
    """Update Model Group: a new description (our marker with a new settings record)."""
    with about(KIND, group_id):
        client.transport.perform_request("PUT", f"/_plugins/_ml/model_groups/{group_id}",
                                         body={"description": description})


def marked_or_named(client: "OpenSearch", name: str) -> list[dict]:
    """In one search: model groups whose description mentions our marker, and any group named ``name``; each hit
    carries ``_seq`` (primary term, sequence number: the order in which the cluster indexed them)."""
    query = {"query": {"bool": {"should": [MARKER_QUERY["query"], {"term": {"name.keyword": name}}],
                                "minimum_should_match": 1}}, "size": MARKER_QUERY["size"],
             "seq_no_primary_term": True, "track_total_hits": True}
    with about(KIND):
        return search(client.plugins.ml.search_model_group, query)


def list_marked(client: "OpenSearch") -> list[dict]:
    """Model groups whose description mentions our marker (callers check it exactly)."""
    with about(KIND):
        return search(client.plugins.ml.search_model_group, MARKER_QUERY)


def delete(client: "OpenSearch", group_id: str) -> bool:
    """Delete; True if it existed. 404 and ``not_found`` count as done."""
    with about(KIND, group_id):
        result = or_none(lambda: client.plugins.ml.delete_model_group(model_group_id=group_id))
    return bool(result) and result.get("result") == "deleted"
