"""Streaming ``_predict`` (ML Commons 3.3+): ``POST /_plugins/_ml/models/{id}/_predict/stream``, read as SSE.

The endpoint needs ``plugins.ml_commons.stream_enabled=true`` and the ``transport-reactor-netty4``
and ``arrow-flight-rpc`` plugins; where any of that is missing the cluster answers with an error
before the first event, which :func:`predict_stream` reports as :class:`StreamUnavailable` so the
caller can fall back to a plain ``_predict``.  Each event is
``data: {"inference_results":[{"output":[{"name":"response","dataAsMap":{"content":"...","is_last":false}}]}]}``
or ``data: {"error": "..."}`` (the provider's stream failed: an error, never a fallback).

"Before the first event" includes a ``200 text/event-stream`` whose body is a plain JSON error
document (3.6 without a Flight stream transport: ``"streamTransportService" is null``), a stream
that ends without any event, and one that sends nothing for ``first_event_timeout`` seconds (the
first reads' socket timeout; it widens to the answer's timeout once an event arrived).  After the
first event every failure is an :class:`UpstreamError`: part of the answer was already shown.

opensearch-py buffers whole bodies, so the request goes through the client's own urllib3 pool
(same host, TLS settings and basic auth) with ``preload_content=False``.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Callable, Iterable, Iterator, Optional, TYPE_CHECKING

import urllib3

from opensearch_llm.errors import ClusterError, UpstreamError, excerpt
from opensearch_llm.resources.predict import NETWORK_ERROR, REMOTE_ERROR, classify
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

STREAM_PATH = "/_plugins/_ml/models/{model_id}/_predict/stream"
MIN_VERSION = (3, 3)
DISABLED = "Streaming is currently disabled"
NO_HTTP_STREAMING = "does not support HTTP streaming"  # the REST layer, before ML Commons sees the request
NO_STREAM_TRANSPORT = "streamTransportService"  # 3.x without a Flight stream transport (arrow-flight-rpc)
FIRST_EVENT_TIMEOUT = 10.0  # seconds the cluster may take to send its first event
SSE_FIELDS = ("data", "event", "id", "retry")
HEAD_LIMIT = 65536  # bytes of a non-SSE body kept for its reason


class StreamUnavailable(Exception):
    """The cluster cannot stream (too old, setting off, plugins missing); ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotEventStream(str):
    """Text in a stream body that is no server-sent event, e.g. a JSON error document sent instead."""


def version_supports_streaming(version: str) -> bool:
    """True for OpenSearch ``3.3`` and later (the first line with the streaming predict endpoint)."""
    found = re.match(r"(\d+)\.(\d+)", version or "")
    return bool(found) and (int(found.group(1)), int(found.group(2))) >= MIN_VERSION


def iter_events(chunks: Iterable[bytes]) -> Iterator[Any]:
    """The JSON payloads of the ``data:`` fields of a server-sent event stream.

    Text that is no SSE line (a JSON error document sent in place of events) comes last, once, as
    :class:`NotEventStream`.
    """
    buffer, data, stray = b"", [], []
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
            elif line.strip() and not _sse_line(line) and len(stray) < 64:
                stray.append(line)
    tail = buffer.decode("utf-8", "replace").strip()
    if tail.startswith("data:"):
        data.append(tail[5:].strip())
    elif tail and not _sse_line(tail):
        stray.append(tail)
    if data:
        yield _payload("\n".join(data))
    if stray:
        yield NotEventStream("\n".join(stray))


def _sse_line(line: str) -> bool:
    return line.startswith(":") or line.split(":", 1)[0] in SSE_FIELDS


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


def _document_reason(text: str) -> str:
    """The reason of a JSON error document in a stream body, or the start of whatever else it was."""
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("error"):
        return _reason(500, text.encode())
    return f"the stream body is no event stream: {excerpt(' '.join(text.split()), 200)}"


def _body_status(text: str) -> int:
    """The ``status`` of a JSON error document sent with a 200 stream head (500 when it has none)."""
    try:
        status = json.loads(text).get("status")
    except (ValueError, AttributeError):
        return 500
    return status if isinstance(status, int) and status >= 400 else 500


def _refusal(status: int, reason: str, model_id: str, path: str) -> Exception:
    """What an error before the first event means: the provider failed, access denied, or no streaming here."""
    reason = mask_text(reason)
    error = ClusterError(reason, kind="model", resource_id=model_id, method="POST", path=path, status=status)
    if REMOTE_ERROR in reason or NETWORK_ERROR in reason:
        return classify(error)  # the provider was called: falling back would call it twice
    if status in (401, 403):
        return error
    return StreamUnavailable(_unavailable(reason))


def _unavailable(reason: str) -> str:
    if DISABLED in reason:
        return "plugins.ml_commons.stream_enabled is false"
    if NO_HTTP_STREAMING in reason:
        return "its HTTP layer cannot stream; it needs the transport-reactor-netty4 plugin"
    text = excerpt(" ".join(reason.split()), 240)  # one line, however the cluster wrapped it
    if NO_STREAM_TRANSPORT in reason:
        return f"it has no stream transport, which needs the arrow-flight-rpc plugin; the cluster said: {text}"
    return text


def _open(client: "OpenSearch", path: str, body: dict, timeout: Optional[float]) -> Any:
    conn = client.transport.get_connection()
    headers = {**dict(getattr(conn, "headers", None) or {}), "content-type": "application/json",
               "accept": "text/event-stream"}
    try:
        return conn.pool.urlopen("POST", getattr(conn, "url_prefix", "") + path, body=json.dumps(body).encode(),
                                 headers=headers, preload_content=False, retries=False,
                                 timeout=urllib3.Timeout(connect=10.0, read=timeout))
    except urllib3.exceptions.ReadTimeoutError:
        raise StreamUnavailable(f"the cluster did not start the stream within {timeout:g} s") from None
    except urllib3.exceptions.HTTPError as exc:
        raise ClusterError(mask_text(f"cannot reach OpenSearch: {exc}"), method="POST", path=path) from None


def _set_read_timeout(response: Any, seconds: Optional[float]) -> None:
    """Change the socket timeout of the reads still to come (urllib3 fixes it when the request is sent)."""
    sock = getattr(getattr(response, "connection", None), "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


class _Body:
    """The stream body in pieces.  Until the first event the reads share one deadline, ``first`` seconds
    after the request was sent, and stop at a complete JSON document (an error sent in place of events,
    however long the cluster then keeps the connection open)."""

    def __init__(self, response: Any, first: Optional[float], sent: float) -> None:
        self.response, self.first, self.head, self.started = response, first, b"", False
        self.deadline = None if first is None else sent + first

    def chunks(self) -> Iterator[bytes]:
        pieces = self.response.stream(4096)
        while True:
            if not self.started:
                if _json_document(self.head):
                    return
                if self.deadline is not None:
                    left = self.deadline - time.monotonic()
                    if left <= 0:
                        raise StreamUnavailable(self.silent())
                    _set_read_timeout(self.response, left)
            chunk = next(pieces, None)
            if chunk is None:
                return
            if not self.started:
                self.head = (self.head + chunk)[:HEAD_LIMIT]
            yield chunk  # the caller sets ``started`` when this chunk's first event goes through

    def silent(self) -> str:
        return f"the cluster accepted the stream but sent no event within {self.first:g} s"


def _json_document(head: bytes) -> bool:
    text = head.strip()
    if not text.startswith(b"{"):
        return False
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _stream_error(message: str, status: Optional[int] = None) -> Exception:
    """An error after the stream started: the provider's failure, classified like ``_predict``'s."""
    message = mask_text(message)
    if REMOTE_ERROR in message or NETWORK_ERROR in message:
        return classify(ClusterError(message, status=status))
    return UpstreamError(f"the streamed answer failed: {message}", provider_message=message)


def predict_stream(client: "OpenSearch", model_id: str, parameters: dict, timeout: Optional[float],
                   on_event: Callable[[dict], None],
                   first_event_timeout: Optional[float] = FIRST_EVENT_TIMEOUT) -> float:
    """Stream one prediction, calling ``on_event`` with every event's ``dataAsMap``; return the seconds taken.

    Raise :class:`StreamUnavailable` when the cluster does not stream: it refuses, sends an error
    document or nothing at all instead of events, or no event within ``first_event_timeout`` seconds
    (None: only ``timeout``, the bound on every later read).  Raise :class:`UpstreamError`
    (classified like ``_predict``) when the provider fails, and for any failure after the first event.
    """
    started = time.perf_counter()
    path = STREAM_PATH.format(model_id=model_id)
    bounds = [t for t in (first_event_timeout, timeout) if t]
    first = min(bounds) if bounds else None
    sent = time.monotonic()
    response = _open(client, path, {"parameters": parameters}, first)
    body, finished = _Body(response, first, sent), False
    try:
        if response.status != 200:
            raise _refusal(response.status, _reason(response.status, response.read()), model_id, path)
        _relay(body, response, timeout, on_event, model_id, path)
        finished = True
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        if body.started:
            raise UpstreamError(mask_text(f"the streamed answer broke off: {exc}")) from None
        if isinstance(exc, (urllib3.exceptions.ReadTimeoutError, TimeoutError)):
            raise StreamUnavailable(body.silent()) from None
        raise StreamUnavailable(excerpt(mask_text(f"the stream broke off before its first event: {exc}"), 300)) \
            from None
    finally:
        if not finished:
            response.close()  # do not hand a half-read (or stalled) stream back to the pool
        response.release_conn()
    return time.perf_counter() - started


def _relay(body: "_Body", response: Any, timeout: Optional[float], on_event: Callable[[dict], None], model_id: str,
           path: str) -> None:
    """Hand every event's ``dataAsMap`` to ``on_event`` until the last one; raise on an error document."""
    for event in iter_events(body.chunks()):
        if isinstance(event, NotEventStream):  # an error document instead of (or after) events
            status, reason = _body_status(event), _document_reason(event)
            raise _stream_error(reason, status) if body.started else _refusal(status, reason, model_id, path)
        if not body.started:
            body.started = True
            _set_read_timeout(response, timeout)
        if isinstance(event, dict) and "error" in event:  # the provider's stream failed: it was called
            raise _stream_error(str(event["error"]))
        data = _data_map(event)
        on_event(data)
        if data.get("is_last"):
            return
    if not body.started:
        raise StreamUnavailable("the cluster ended the stream without sending an event")


def _data_map(event: Any) -> dict:
    try:
        data = event["inference_results"][0]["output"][0]["dataAsMap"]
    except (KeyError, IndexError, TypeError):
        data = event
    return data if isinstance(data, dict) else {"content": str(data)}
