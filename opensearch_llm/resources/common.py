"""Helpers shared by the resource modules."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar

from opensearch_llm.errors import ClusterError, NotFoundError

T = TypeVar("T")
MARKER_TEXT = "opensearch-llm"  # what every ownership marker contains
MARKER_QUERY = {"query": {"match_phrase": {"description": MARKER_TEXT}}, "size": 10000, "track_total_hits": True}


@contextmanager
def about(kind: str, resource_id: Optional[str] = None) -> Iterator[None]:
    """Attach the resource kind and id to any ClusterError raised inside."""
    try:
        yield
    except ClusterError as exc:
        exc.kind = exc.kind or kind
        exc.resource_id = exc.resource_id or resource_id
        raise


def or_none(call: Callable[[], T]) -> Optional[T]:
    """The call's result, or None when it answers 404."""
    try:
        return call()
    except NotFoundError:
        return None


def hits(response: Mapping[str, Any]) -> list[dict]:
    """Search hits as ``{"id": ..., **_source}`` dicts (with ``_seq`` where the search asked for it)."""
    out = []
    for h in response.get("hits", {}).get("hits", []):
        seq = {"_seq": (h["_primary_term"], h["_seq_no"])} if "_seq_no" in h else {}
        out.append({"id": h["_id"], **h.get("_source", {}), **seq})
    return out


def search(call: Callable[..., Any], query: dict) -> list[dict]:
    """Run an ML Commons search; a missing system index means no results. A search that matched more than it
    returned raises instead of cutting the list short."""
    result = or_none(lambda: call(body=query))
    if not result:
        return []
    found = hits(result)
    total = result.get("hits", {}).get("total")
    matched = total.get("value", 0) if isinstance(total, dict) else (total or 0)
    if matched > len(found):
        raise ClusterError(f"the search matched {matched} documents and returned only {len(found)}: opensearch-llm "
                           "will not act on a partial list", status=None,
                           hint="remove leftovers of other tools first, or act on one run: --run RUN_ID")
    return found
