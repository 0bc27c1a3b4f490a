"""Shared machinery for the fake LLM servers: an HTTP server in a thread, a request log, faults.

A :class:`FakeServer` runs a :class:`~http.server.ThreadingHTTPServer` (HTTP/1.1, daemon
threads) on ``127.0.0.1`` in a daemon thread.  Subclasses register routes with
:meth:`FakeServer.route` and answer through an :class:`~opensearch_llm.testing._exchange.Exchange`.
Every request is recorded as a :class:`RecordedRequest`; the :class:`Faults` switches are
checked before a route runs.  :meth:`FakeServer.cap` adds a provider's concurrency cap (HTTP 429 at once
beyond it, see :mod:`~opensearch_llm.testing._cap`), and :attr:`FakeServer.billed`, :attr:`FakeServer.refused`
and :attr:`FakeServer.max_in_flight` tell answered calls from refused ones.  Standard library only.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, fields
from typing import Any, Callable, Dict, List, Optional, TypeVar

from opensearch_llm.testing._cap import CAP_MESSAGE, DEFAULT_SCOPE, ConcurrencyCap
from opensearch_llm.testing._exchange import Exchange, RecordedRequest, _HTTPServer
from opensearch_llm.testing._standalone import add_fault_arguments, apply_fault_arguments, serve_until_signal

__all__ = ["Exchange", "FakeServer", "Faults", "RecordedRequest", "Route", "add_fault_arguments",
           "apply_fault_arguments", "serve_until_signal"]

Route = Callable[[Exchange], None]
_S = TypeVar("_S", bound="FakeServer")


@dataclass
class Faults:
    """Runtime fault switches; mutate the fields directly or use the FakeServer helpers.

    ``status`` answers with that HTTP status and the provider's error shape, ``retry_after``
    adds a ``Retry-After`` header, ``delay`` sleeps before answering, ``malformed_json``
    answers 200 with broken JSON, ``drop_connection`` closes the socket without answering.
    ``path_contains`` scopes the fault to matching paths; ``count`` limits how many matching
    requests it hits before every switch clears itself (None: until cleared).
    """

    status: Optional[int] = None
    count: Optional[int] = None
    retry_after: Optional[int] = None
    delay: float = 0.0
    malformed_json: bool = False
    path_contains: Optional[str] = None
    drop_connection: bool = False

    def active(self) -> bool:
        """True when any switch would change an answer."""
        armed = self.status is not None or self.delay > 0 or self.malformed_json or self.drop_connection
        return armed and (self.count is None or self.count > 0)

    def applies_to(self, path: str) -> bool:
        """True when the fault is active and ``path`` is in scope."""
        return self.active() and (self.path_contains is None or self.path_contains in path)

    def clear(self) -> None:
        """Reset every switch to its default, in place."""
        for f in fields(self):
            setattr(self, f.name, f.default)


class FakeServer:
    """Base class: a threaded HTTP server on 127.0.0.1 with a request log and fault switches."""

    name = "fake-server"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self._port = port
        self.faults = Faults()
        self._cap = ConcurrencyCap()
        self._routes: Dict[str, Dict[str, Route]] = {}
        self._log: List[RecordedRequest] = []
        self._cond = threading.Condition()
        self._httpd: Optional[_HTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # lifecycle -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The bound port (the requested one before :meth:`start`)."""
        return self._httpd.server_address[1] if self._httpd else self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    def start(self: _S) -> _S:
        """Bind and serve in a daemon thread; a no-op when already running."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self._port), self)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"{self.name}:{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Shut down and close the socket; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            self._port = httpd.server_address[1]
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self: _S) -> _S:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # request log -----------------------------------------------------------------------
    @property
    def requests(self) -> List[RecordedRequest]:
        """A copy of every request received so far, oldest first."""
        with self._cond:
            return list(self._log)

    def clear_requests(self) -> None:
        """Forget the recorded requests and zero :attr:`billed`, :attr:`refused` and :attr:`max_in_flight`."""
        with self._cond:
            self._log.clear()
            self._cap.reset()

    def last_request(self, path_suffix: Optional[str] = None) -> Optional[RecordedRequest]:
        """The newest request (whose path ends with ``path_suffix`` if given), or None."""
        with self._cond:
            for rec in reversed(self._log):
                if path_suffix is None or rec.path.endswith(path_suffix):
                    return rec
        return None

    def wait_for_request(self, path_suffix: Optional[str] = None, timeout: float = 5.0) -> Optional[RecordedRequest]:
        """Block until a request matching ``path_suffix`` is recorded (counting earlier ones)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = next((r for r in reversed(self._log)
                              if path_suffix is None or r.path.endswith(path_suffix)), None)
                left = deadline - time.monotonic()
                if found is not None or left <= 0:
                    return found
                self._cond.wait(left)

    # faults ------------------------------------------------------------------------------
    def fail(self, status: int, count: Optional[int] = None, retry_after: Optional[int] = None,
             path_contains: Optional[str] = None) -> None:
        """Answer matching requests with ``status`` and the provider's error shape."""
        with self._cond:
            self.faults.clear()
            self.faults.status, self.faults.count = status, count
            self.faults.retry_after, self.faults.path_contains = retry_after, path_contains

    def slow(self, seconds: float, count: Optional[int] = None, path_contains: Optional[str] = None) -> None:
        """Sleep ``seconds`` before answering matching requests (combines with other switches)."""
        with self._cond:
            self.faults.delay = seconds
            if count is not None:
                self.faults.count = count
            if path_contains is not None:
                self.faults.path_contains = path_contains

    def malformed(self, count: Optional[int] = None, path_contains: Optional[str] = None) -> None:
        """Answer matching requests with 200 and a truncated JSON body."""
        with self._cond:
            self.faults.clear()
            self.faults.malformed_json, self.faults.count, self.faults.path_contains = True, count, path_contains

    def drop(self, count: Optional[int] = None, path_contains: Optional[str] = None) -> None:
        """Close the connection of matching requests without answering."""
        with self._cond:
            self.faults.clear()
            self.faults.drop_connection, self.faults.count, self.faults.path_contains = True, count, path_contains

    def reset_faults(self) -> None:
        """Clear every fault switch and lift the concurrency cap."""
        with self._cond:
            self.faults.clear()
        self._cap.set(None)

    # concurrency cap ----------------------------------------------------------------------------
    def cap(self, limit: int, retry_after: Optional[int] = None, path_contains: str = DEFAULT_SCOPE) -> None:
        """Answer a request whose path contains ``path_contains`` with 429 at once (the provider's error body,
        :data:`~opensearch_llm.testing._cap.CAP_MESSAGE`, plus ``Retry-After`` when given) while ``limit`` are in
        flight, like DeepSeek's per-account cap; combines with :meth:`slow`, whose delay counts as in flight."""
        self._cap.set(limit, retry_after, path_contains)

    def cap_off(self) -> None:
        """Lift the concurrency cap (the counters go on counting)."""
        self._cap.set(None, path_contains=self._cap.path_contains)

    @property
    def billed(self) -> int:
        """Requests in the cap's scope (paths with ``chat`` by default; counted with or without a cap) answered with
        HTTP 200: the answers a provider would bill."""
        return self._cap.tally().billed

    @property
    def refused(self) -> int:
        """Requests in the cap's scope refused with 429 by :meth:`cap` (never billed)."""
        return self._cap.tally().refused

    @property
    def max_in_flight(self) -> int:
        """The most requests in the cap's scope in flight at once (admitted ones; refused ones never count)."""
        return self._cap.tally().max_in_flight

    def _take_fault(self, path: str) -> Optional[Faults]:
        with self._cond:
            if not self.faults.applies_to(path):
                return None
            snapshot = Faults(**{f.name: getattr(self.faults, f.name) for f in fields(Faults)})
            if self.faults.count is not None:
                self.faults.count -= 1
                if self.faults.count <= 0:
                    self.faults.clear()
            return snapshot

    # provider hooks --------------------------------------------------------------------------
    def error_payload(self, status: int, message: Optional[str] = None) -> Any:
        """The provider's error body for ``status``; subclasses override."""
        return {"error": message or f"HTTP {status}"}

    def malformed_body(self) -> bytes:
        """A 200 body that is not valid JSON; subclasses override."""
        return b'{"id": "broken", "object": "chat.completion", "choices": [{"index": 0, "mess'

    def route(self, method: str, path: str, handler: Route) -> None:
        """Register ``handler`` for ``method path`` (HEAD falls back to GET)."""
        self._routes.setdefault(path, {})[method.upper()] = handler

    # dispatch ----------------------------------------------------------------------------------
    def _dispatch(self, ex: Exchange) -> None:
        rec = ex.request
        with self._cond:
            self._log.append(rec)
            self._cond.notify_all()
        if not self._cap.in_scope(rec.path):
            return self._respond(ex)
        if not self._cap.admit():
            return self._refuse_over_cap(ex)
        ex.on_settled = lambda status: self._cap.release(billed=status == 200)
        try:
            self._respond(ex)
        finally:
            ex.settle()  # when the answer did not (a handler that sent nothing)

    def _refuse_over_cap(self, ex: Exchange) -> None:
        """The cap's answer: 429 with the provider's error body, sent at once (no delay, no fault)."""
        retry_after = self._cap.retry_after
        extra = {"Retry-After": str(retry_after)} if retry_after is not None else None
        try:
            ex.send_json(429, self.error_payload(429, CAP_MESSAGE), extra)
        except (BrokenPipeError, ConnectionResetError):
            ex.abort()

    def _respond(self, ex: Exchange) -> None:
        rec = ex.request
        try:
            fault = self._take_fault(rec.path)
            if fault is not None:
                if fault.delay > 0:
                    time.sleep(fault.delay)
                if fault.drop_connection:
                    return ex.abort()
                if fault.status is not None:
                    extra = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else None
                    return ex.send_json(fault.status, self.error_payload(fault.status), extra)
                if fault.malformed_json:
                    return ex.send_bytes(200, self.malformed_body(), "application/json")
            methods = self._routes.get(rec.path)
            if methods is None:
                return ex.send_json(404, self.error_payload(404, f"Not Found: {rec.path}"))
            handler = methods.get(rec.method) or (methods.get("GET") if rec.method == "HEAD" else None)
            if handler is None:
                return ex.send_json(405, self.error_payload(405, "Method Not Allowed"))
            handler(ex)
        except (BrokenPipeError, ConnectionResetError):
            ex.abort()
        except Exception as exc:  # a bug in a fake must still answer, not hang the client
            if ex.started:
                ex.abort()
            else:
                ex.send_json(500, self.error_payload(500, f"fake server error: {type(exc).__name__}: {exc}"))
