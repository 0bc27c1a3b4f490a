"""Connectors: ``/_plugins/_ml/connectors``.

Update policy: the connector body (endpoint, request template, credential) is fingerprinted in
the ownership marker; a different fingerprint means replace (delete the model and connector,
create both again). ML Commons refuses updates while a deployed model uses the connector.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.resources.common import MARKER_QUERY, about, or_none, search

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "connector"


def create(client: "OpenSearch", body: dict) -> str:
    """Create a connector from ``body`` (Secrets are revealed only by the transport); return its id."""
    with about(KIND):
        return client.plugins.ml.create_connector(body=body)["connector_id"]


def get(client: "OpenSearch", connector_id: str) -> Optional[dict]:
    """The connector document (credential stripped by the server), or None."""
    with about(KIND, connector_id):
        return or_none(lambda: client.plugins.ml.get_connector(connector_id=connector_id))


def list_marked(client: "OpenSearch") -> list[dict]:
    """Connectors whose description mentions our marker (callers check it exactly)."""
    with about(KIND):
        return search(client.plugins.ml.search_connectors, MARKER_QUERY)


def delete(client: "OpenSearch", connector_id: str) -> bool:
    """Delete; True if it existed. 404 and ``not_found`` count as done."""
    with about(KIND, connector_id):
        result = or_none(lambda: client.plugins.ml.delete_connector(connector_id=connector_id))
    return bool(result) and result.get("result") == "deleted"
