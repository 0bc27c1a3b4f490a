"""Streamed answers where the cluster can stream, and a one-line reason where it cannot.

ML Commons streams from 3.3 on, only for OpenAI-compatible chat connectors
(``_llm_interface: openai/v1/chat/completions``), and only with streaming switched on (see
:mod:`opensearch_llm.resources.predict_stream`).  :func:`stream_answer` checks the version and the
blueprint first, then tries the endpoint; when streaming is unavailable (refused, an error document
or no event instead of a stream, or no event within ``first_event_timeout`` seconds) it returns a
``note`` and the caller asks for the full answer instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List, Optional, TYPE_CHECKING

from opensearch_llm.lifecycle.messages import dialect
from opensearch_llm.resources.predict_stream import (
    FIRST_EVENT_TIMEOUT, StreamUnavailable, predict_stream, version_supports_streaming,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from opensearch_llm.blueprint.model import Blueprint

LLM_INTERFACE = "openai/v1/chat/completions"
FALLBACK = "showing the full answer"


@dataclass
class Streamed:
    """A streamed answer (``note`` is None), or why there is none (``note`` set, nothing was printed)."""

    text: str = ""
    seconds: float = 0.0
    note: Optional[str] = None
    chunks: List[str] = field(default_factory=list)

    @property
    def response(self) -> dict:
        """A ``_predict``-shaped view of the streamed text."""
        return {"inference_results": [{"output": [{"name": "response", "dataAsMap": {"content": self.text}}]}],
                "streamed_chunks": len(self.chunks)}


def cluster_version(client: "OpenSearch") -> str:
    """The cluster's OpenSearch version number, e.g. ``2.19.6``."""
    return str(client.info()["version"]["number"])


def unavailable_reason(version: str, blueprint: "Blueprint") -> Optional[str]:
    """Why ``blueprint`` cannot stream on a cluster of ``version`` without asking it, or None."""
    if not version_supports_streaming(version):
        return f"streaming is not available on this cluster (OpenSearch {version}): {FALLBACK}"
    if blueprint.predict.style != "messages" or dialect(blueprint) != "openai":
        return (f"streaming is not available for {blueprint.name} (ML Commons streams only OpenAI-compatible "
                f"chat connectors): {FALLBACK}")
    return None


def answer_timeout(blueprint: "Blueprint") -> Optional[float]:
    """Seconds a prediction may take: ``predict.timeout`` where blueprints have it, else ``smoke.timeout``."""
    return getattr(blueprint.predict, "timeout", None) or blueprint.smoke.timeout


def stream_answer(client: "OpenSearch", blueprint: "Blueprint", model_id: str, parameters: dict,
                  on_chunk: Callable[[str], None],
                  first_event_timeout: Optional[float] = FIRST_EVENT_TIMEOUT) -> Streamed:
    """Stream the answer to ``parameters`` into ``on_chunk``, or return a :class:`Streamed` with a ``note``.

    ``first_event_timeout`` bounds the wait for the first event (a stalled stream falls back); the
    answer's own timeout bounds every read after it.
    """
    version = cluster_version(client)
    note = unavailable_reason(version, blueprint)
    if note:
        return Streamed(note=note)
    result = Streamed()

    def on_event(data: dict) -> None:
        piece = data.get("content")
        if isinstance(piece, str) and piece:
            result.chunks.append(piece)
            on_chunk(piece)

    try:
        result.seconds = predict_stream(client, model_id, {**parameters, "_llm_interface": LLM_INTERFACE},
                                        answer_timeout(blueprint), on_event, first_event_timeout)
    except StreamUnavailable as exc:
        if result.chunks:  # pragma: no cover - predict_stream raises UpstreamError once an event arrived
            raise
        return Streamed(note=f"streaming is not available on this cluster (OpenSearch {version}: {exc.reason}): "
                             f"{FALLBACK}")
    result.text = "".join(result.chunks)
    return result
