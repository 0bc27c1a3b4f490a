"""HTTP plumbing for the fake servers: the recorded request, the handler, and :class:`Exchange`.

:class:`Exchange` answers one request: a JSON body with ``Content-Length``, a
``Transfer-Encoding: chunked`` stream (SSE or NDJSON), or a dropped connection.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Dict, Mapping, Optional
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from opensearch_llm.testing._server import FakeServer


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake server saw it (header names lower-cased, ``json`` parsed or None)."""

    method: str
    path: str
    headers: Dict[str, str]
    body: bytes
    json: Any
    time: float
    query: str = ""


class Exchange:
    """One request/response pair: the recorded request plus ways to answer it."""

    def __init__(self, handler: BaseHTTPRequestHandler, request: RecordedRequest) -> None:
        self._h = handler
        self.request = request
        self.started = False
        self.status: Optional[int] = None  # the status line sent, if any (a refused or billed call)
        #: told the status once, just before the answer's last bytes go out (None: nothing sent)
        self.on_settled: Optional[Callable[[Optional[int]], None]] = None
        self._chunked = False

    def settle(self) -> None:
        """Call :attr:`on_settled` once.  It runs before the client can have the whole answer, so a caller that
        sends its next request on receipt finds the server's books (a concurrency slot, a tally) already done."""
        callback, self.on_settled = self.on_settled, None
        if callback is not None:
            callback(self.status)

    def _head(self, status: int, content_type: str, headers: Optional[Mapping[str, str]]) -> None:
        self.started, self.status = True, status
        self._h.send_response(status)
        self._h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self._h.send_header(k, v)

    def send_bytes(self, status: int, body: bytes, content_type: str,
                   headers: Optional[Mapping[str, str]] = None) -> None:
        """Answer with a complete body and ``Content-Length`` (no body for HEAD)."""
        self._head(status, content_type, headers)
        self._h.send_header("Content-Length", str(len(body)))
        self.settle()
        self._h.end_headers()
        if self.request.method != "HEAD":
            self._h.wfile.write(body)

    def send_json(self, status: int, payload: Any, headers: Optional[Mapping[str, str]] = None,
                  content_type: str = "application/json") -> None:
        """Answer with ``payload`` serialised as JSON."""
        self.send_bytes(status, json.dumps(payload).encode("utf-8"), content_type, headers)

    def start_stream(self, status: int, content_type: str,
                     headers: Optional[Mapping[str, str]] = None) -> None:
        """Send the head of a streamed answer: chunked on HTTP/1.1, close-delimited otherwise."""
        self._head(status, content_type, {"Cache-Control": "no-cache", **(headers or {})})
        if self._h.request_version == "HTTP/1.1":
            self._chunked = True
            self._h.send_header("Transfer-Encoding", "chunked")
        else:
            self._h.send_header("Connection", "close")
            self._h.close_connection = True
        self._h.end_headers()

    def write(self, data: bytes) -> None:
        """Write one piece of a streamed answer (one HTTP chunk)."""
        if not data:
            return
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._h.wfile.write(data)
        self._h.wfile.flush()

    def end_stream(self) -> None:
        """Finish a streamed answer (the terminating zero-length chunk)."""
        self.settle()
        if self._chunked:
            self._h.wfile.write(b"0\r\n\r\n")
            self._h.wfile.flush()

    def abort(self) -> None:
        """Close the connection now, whatever was or was not sent."""
        self.settle()
        self.started = True
        self._h.close_connection = True
        try:
            self._h.wfile.flush()
        except OSError:
            pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeLLM/1.0"
    server: "_HTTPServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        try:
            parsed = json.loads(body) if body.strip() else None
        except ValueError:
            parsed = None
        split = urlsplit(self.path)
        rec = RecordedRequest(self.command, split.path or "/", {k.lower(): v for k, v in self.headers.items()},
                              body, parsed, time.time(), split.query)
        self.server.fake._dispatch(Exchange(self, rec))

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_PATCH = _dispatch


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr: tuple, fake: FakeServer) -> None:
        self.fake = fake
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet when a client hangs up; report anything else as usual."""
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


