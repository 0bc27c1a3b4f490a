"""Connectors: ``/_plugins/_ml/connectors``.

Update policy: the connector body (endpoint, request template, credential) is fingerprinted in
the ownership marker; a different fingerprint means replace (delete the model and connector,
create both again). ML Commons refuses updates while a deployed model uses the connector.

ML Commons finds "models using this connector" (before a delete or an update) with a ``match`` query on the
text-mapped ``connector_id`` of the model index, which the standard analyzer splits at each ``-``. A connector id
such as ``t8ZJUqIBn_26B93UtJ-W`` is therefore "used" by anyone's model whose connector id also has a ``-W``
part, and cannot be deleted while that model exists. :func:`create` keeps only ids without a ``-`` (one token,
which no other id matches), so our connectors never depend on other people's models, nor theirs on ours.
"""

from __future__ import annotations

from typing import Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError
from opensearch_llm.resources.common import MARKER_QUERY, about, or_none, search

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "connector"
# 27 % of ids hold a "-" (20 characters of base64url): four tries leave about one in 190 with a "-"
CREATE_TRIES = 4


def create(client: "OpenSearch", body: dict) -> str:
    """Create a connector from ``body`` (Secrets are revealed only by the transport); return its id.

    An id with a ``-`` is deleted at once and the connector made again (see the module docstring); if the
    fresh one cannot be deleted, or every try has a ``-``, that id is kept. A node whose ids carry a ``-`` in
    their fixed part (OpenSearch's time-based ids hold the node's munged MAC address: every id it makes shares
    that token) is not asked again once two ids show the ``-`` in the same place.
    """
    dashes: set = set()
    for _ in range(CREATE_TRIES - 1):
        rid = _create_once(client, body)
        if not splits(rid) or dashes & _dash_positions(rid):
            return rid
        dashes |= _dash_positions(rid)
        try:
            delete(client, rid)
        except ClusterError:
            return rid
    return _create_once(client, body)


def _dash_positions(connector_id: str) -> set:
    return {i for i, char in enumerate(connector_id) if char == "-"}


def splits(connector_id: str) -> bool:
    """True when ML Commons' match query sees ``connector_id`` as more than one token."""
    return "-" in connector_id


def _create_once(client: "OpenSearch", body: dict) -> str:
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
