"""Helpers shared by the resource modules."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, TypeVar

from opensearch_llm.errors import ClusterError, NotFoundError

T = TypeVar("T")
MARKER_QUERY = {"query": {"match_phrase": {"description": "opensearch-llm"}}, "size": 10000}


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


def hits(response: Any) -> list[dict]:
    """Search hits as ``{"id": ..., **_source}`` dicts."""
    return [{"id": h["_id"], **h.get("_source", {})} for h in response.get("hits", {}).get("hits", [])]


def search(call: Callable[..., Any], query: dict) -> list[dict]:
    """Run an ML Commons search; a missing system index means no results."""
    result = or_none(lambda: call(body=query))
    return hits(result) if result else []
