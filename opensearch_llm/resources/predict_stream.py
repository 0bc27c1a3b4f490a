"""Streaming ``_predict`` (ML Commons 3.3+): ``POST /_plugins/_ml/models/{id}/_predict/stream``, read as SSE.

The endpoint needs ``plugins.ml_commons.stream_enabled=true`` and the ``transport-reactor-netty4``
and ``arrow-flight-rpc`` plugins; where any of that is missing the cluster answers with an error
before the first event, which :func:`predict_stream` reports as :class:`StreamUnavailable` so the
caller can fall back to a plain ``_predict``.  Each event is
``data: {"inference_results":[{"output":[{"name":"response","dataAsMap":{"content":"...","is_last":false}}]}]}``
or ``data: {"error": "..."}``.

opensearch-py buffers whole bodies, so the request goes through the client's own urllib3 pool
(same host, TLS settings and basic auth) with ``preload_content=False``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Iterable, Iterator, Optional

import urllib3

from opensearch_llm.errors import ClusterError, UpstreamError, excerpt
from opensearch_llm.resources.predict import NETWORK_ERROR, REMOTE_ERROR, classify
from opensearch_llm.secrets import mask_text

STREAM_PATH = "/_plugins/_ml/models/{model_id}/_predict/stream"
MIN_VERSION = (3, 3)
DISABLED = "Streaming is currently disabled"
NO_HTTP_STREAMING = "does not support HTTP streaming"  # the REST layer, before ML Commons sees the request


class StreamUnavailable(Exception):
    """The cluster cannot stream (too old, setting off, plugins missing); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def version_supports_streaming(version: str) -> bool:
    """True for OpenSearch ``3.3`` and later (the first line with the streaming predict endpoint)."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= MIN_VERSION


def iter_events(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The JSON payloads of the ``data:`` fields of a server-sent event stream."""
    buffer, data = b"", []
    for chunk in chunks:
        buffer += chunk
        while b"\n" in buffer:
            raw, buffer = buffer.split(b"\n", 1)
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if line.startswith("data:"):
                data.append(line[5:].strip())
            elif not line and data:
                yield _payload("\n".join(data))
                data = []
    if buffer.strip().startswith(b"data:"):
        data.append(buffer.decode("utf-8", "replace").strip()[5:].strip())
    if data:
        yield _payload("\n".join(data))


def _payload(text: str) -> Any:
    if text == "[DONE]":
        return {"is_last": True}
    try:
        return json.loads(text)
    except ValueError:
        raise UpstreamError(f"the stream sent an event that is not JSON: {excerpt(mask_text(text), 200)}") from None


def _reason(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace")
    try:
        err = json.loads(text).get("error")
    except (ValueError, AttributeError):
        return excerpt(text.strip() or f"HTTP {status}", 300)
    if isinstance(err, dict):
        return str(err.get("reason") or err.get("type") or err)
    return str(err or f"HTTP {status}")


def _unavailable(reason: str) -> str:
    if DISABLED in reason:
        return "plugins.ml_commons.stream_enabled is false"
    if NO_HTTP_STREAMING in reason:
        return "its HTTP layer cannot stream; it needs the transport-reactor-netty4 plugin"
    return reason


def _open(client: Any, path: str, body: dict, timeout: Optional[float]) -> Any:
    conn = client.transport.get_connection()
    headers = {**dict(getattr(conn, "headers", None) or {}), "content-type": "application/json",
               "accept": "text/event-stream"}
    try:
        return conn.pool.urlopen("POST", getattr(conn, "url_prefix", "") + path, body=json.dumps(body).encode(),
                                 headers=headers, preload_content=False, retries=False,
                                 timeout=urllib3.Timeout(connect=10.0, read=timeout))
    except urllib3.exceptions.HTTPError as exc:
        raise ClusterError(mask_text(f"cannot reach OpenSearch: {exc}"), method="POST", path=path) from None


def predict_stream(client: Any, model_id: str, parameters: dict, timeout: Optional[float],
                   on_event: Callable[[dict], None]) -> float:
    """Stream one prediction, calling ``on_event`` with every event's ``dataAsMap``; return the seconds taken.

    Raise :class:`StreamUnavailable` when the cluster refuses to stream before the first event,
    :class:`UpstreamError` (classified like ``_predict``) when the provider fails.
    """
    started = time.perf_counter()
    path = STREAM_PATH.format(model_id=model_id)
    response = _open(client, path, {"parameters": parameters}, timeout)
    try:
        if response.status != 200:
            reason = mask_text(_reason(response.status, response.read()))
            error = ClusterError(reason, kind="model", resource_id=model_id, method="POST", path=path,
                                 status=response.status)
            if REMOTE_ERROR in reason or NETWORK_ERROR in reason:
                raise classify(error)
            if response.status in (401, 403):
                raise error
            raise StreamUnavailable(_unavailable(reason))
        for event in iter_events(response.stream(4096)):
            if isinstance(event, dict) and "error" in event:
                message = mask_text(str(event["error"]))
                raise classify(ClusterError(message, status=None)) if REMOTE_ERROR in message else UpstreamError(
                    f"the streamed answer failed: {message}", provider_message=message)
            data = _data_map(event)
            on_event(data)
            if data.get("is_last"):
                break
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise UpstreamError(mask_text(f"the streamed answer broke off: {exc}")) from None
    finally:
        response.release_conn()
    return time.perf_counter() - started


def _data_map(event: Any) -> dict:
    try:
        data = event["inference_results"][0]["output"][0]["dataAsMap"]
    except (KeyError, IndexError, TypeError):
        data = event
    return data if isinstance(data, dict) else {"content": str(data)}
