"""Conversation memories: ``/_plugins/_ml/memory`` (the chat history of RAG and conversational agents).

Update policy: a memory holds conversation state, not configuration: it is created per conversation
and deleted with the run that made it. The ownership marker lives in the memory's ``name``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError
from opensearch_llm.resources.common import about, or_none
from opensearch_llm.resources.common import MARKER_TEXT

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

KIND = "memory"
PAGE = 1000  # max_results per page; ML Commons answers next_token while a page comes back full


def create(client: "OpenSearch", name: str) -> str:
    """Create a memory called ``name`` (where our marker goes); return its id."""
    with about(KIND):
        return client.plugins.ml.create_memory(body={"name": name})["memory_id"]


def get(client: "OpenSearch", memory_id: str) -> Optional[dict]:
    """The memory (``memory_id``, ``name``, ``create_time``, ``updated_time``), or None."""
    with about(KIND, memory_id):
        return or_none(lambda: client.plugins.ml.get_memory(memory_id=memory_id))


def messages(client: "OpenSearch", memory_id: str) -> list[dict]:
    """Every message of the memory, all pages; NotFoundError when the memory does not exist."""
    with about(KIND, memory_id):
        return _pages(lambda params: client.plugins.ml.get_all_messages(memory_id=memory_id, params=params),
                      "messages")


def list_marked(client: "OpenSearch") -> list[dict]:
    """Memories whose name mentions our marker (callers check it exactly), all pages."""
    with about(KIND):
        found = _pages(lambda params: client.plugins.ml.get_all_memories(params=params), "memories")
    return [{"id": m["memory_id"], "name": m.get("name"), "description": m.get("name"), "doc": m}
            for m in found if MARKER_TEXT in str(m.get("name") or "")]


def delete(client: "OpenSearch", memory_id: str) -> bool:
    """Delete the memory and its messages; True if it existed.

    ML Commons answers ``{"success": true}`` for any id while no memory index exists yet, so the
    memory is read first; a missing one answers 404 once the index exists.
    """
    with about(KIND, memory_id):
        if get(client, memory_id) is None:
            return False
        result = or_none(lambda: client.plugins.ml.delete_memory(memory_id=memory_id))
        if result is not None and result.get("success") is not True:
            raise ClusterError("the memory was deleted, but some of its messages may not have been")
    return result is not None


def _pages(call: Callable[[dict], Any], key: str) -> list[dict]:
    rows: list[dict] = []
    token: Optional[Any] = None
    while True:
        page = call({"max_results": PAGE, **({"next_token": token} if token is not None else {})}) or {}
        rows += page.get(key) or []
        token = page.get("next_token")
        if token is None or not page.get(key):
            return rows
