"""The request handler behind :class:`opensearch_llm.testing.fault_proxy.FaultProxy`."""

from __future__ import annotations

import http.client
import json
import os
import socket
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional

from opensearch_llm.testing._proxy_rules import (
    UPSTREAM_ERRORS, ProxyRecord, Reply, Rule, default_error, hop,
)

if TYPE_CHECKING:
    from opensearch_llm.testing.fault_proxy import FaultProxy


class ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    proxy: "FaultProxy"


class ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: ProxyServer
    _upstream: Optional[http.client.HTTPConnection] = None
    _logged, _injected, _started = True, False, 0.0
    _index: Optional[int] = None

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, False)
            if self._upstream is not None:
                self._upstream.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def do_GET(self) -> None:
        self._logged, self._injected, self._index, self._started = False, False, None, time.time()
        self._body = b""
        try:
            try:
                body = self._body = self._read_body()
            except ValueError:
                self.close_connection = True
                self._error(400, "malformed chunked request body")
                return
            self._index, rule = self.server.proxy._select(self.command, self.path)
            self._serve(rule, body)
        except (BrokenPipeError, ConnectionResetError):  # the client went away
            self.close_connection = True
        finally:
            self._log(None)

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_GET

    def _log(self, status: Optional[int]) -> None:
        """Record this request once, before the answer reaches the client (so callers see it at once)."""
        if not self._logged:
            self._logged = True
            record = ProxyRecord(self.command, self.path, status, self._injected, self._index, self._started,
                                 getattr(self, "_body", b""))
            with self.server.proxy._lock:
                self.server.proxy._log.append(record)

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower().endswith("chunked"):
            parts = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self, rule: Optional[Rule], body: bytes) -> None:
        slow_answer = rule is not None and rule.after_upstream and rule.delay > 0
        if rule is not None and rule.delay > 0 and not slow_answer:
            time.sleep(rule.delay)
        if rule is None or not (rule.reset or rule.status is not None):
            self._injected = rule is not None and (rule.respond_json is not None or slow_answer)
            self._forward(body, rule.respond_json if rule is not None else None,
                          pause=rule.delay if slow_answer and rule is not None else 0.0)
            return
        if rule.after_upstream:
            try:
                self._fetch(body)
            except UPSTREAM_ERRORS:
                pass
        self._injected = True
        self._fault(rule)

    def _fault(self, rule: Rule) -> None:
        if rule.reset or rule.status is None:
            self._log(None)
            self.close_connection = True
            try:  # SO_LINGER 0 makes close() send RST; detach so the server's shutdown() sends no FIN first
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                os.close(self.connection.detach())
            except OSError:
                pass
            return
        payload = default_error(rule.status) if rule.body is None else rule.body
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/plain; charset=utf-8"
        else:
            data, ctype = json.dumps(payload).encode(), "application/json; charset=UTF-8"
        extra = dict(rule.headers or {})
        if not any(k.lower() == "content-type" for k in extra):
            extra["Content-Type"] = ctype
        self._send(rule.status, data, extra)

    def _forward(self, body: bytes, rewrite: Optional[Callable[[Any], Any]] = None, pause: float = 0.0) -> None:
        try:
            status, reason, headers, data = self._fetch(body)
        except UPSTREAM_ERRORS as exc:
            self._error(502, f"upstream {self.server.proxy.upstream} failed: {exc!r}")
            return
        if pause:  # a slow answer: the upstream has acted, the client waits (and times out)
            time.sleep(pause)
        if rewrite is not None and data:
            try:
                decoded = json.loads(data)
            except ValueError:  # not JSON: pass the upstream answer through unchanged
                decoded = None
            try:
                data = data if decoded is None else json.dumps(rewrite(decoded)).encode()
            except Exception as exc:  # a broken test callback becomes a visible 500, not a dead socket
                self._error(500, f"respond_json failed: {exc!r}")
                return
        self._log(status)
        self.send_response_only(status, reason)
        bodiless = self.command == "HEAD" or status in (204, 304)
        for k, v in headers:
            if not hop(k) and (bodiless or k.lower() != "content-length"):
                self.send_header(k, v)
        if not bodiless:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(data)

    def _fetch(self, body: bytes) -> Reply:
        proxy = self.server.proxy
        listed = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        skip = {"host", "content-length", "expect"} | listed
        headers = [(k, v) for k, v in self.headers.items() if not hop(k) and k.lower() not in skip]
        has_body = bool(body) or "Content-Length" in self.headers or "Transfer-Encoding" in self.headers
        for attempt in (0, 1):
            if self._upstream is None:
                self._upstream = http.client.HTTPConnection(proxy._host, proxy._uport, timeout=proxy.upstream_timeout)
            conn = self._upstream
            reused = conn.sock is not None
            try:
                conn.putrequest(self.command, proxy._prefix + self.path, skip_host=True, skip_accept_encoding=True)
                conn.putheader("Host", proxy._netloc)
                for k, v in headers:
                    conn.putheader(k, v)
                if has_body:
                    conn.putheader("Content-Length", str(len(body)))
                conn.endheaders(body if body else None)
                resp = conn.getresponse()
                return resp.status, resp.reason, resp.getheaders(), resp.read()
            except UPSTREAM_ERRORS as exc:
                conn.close()
                self._upstream = None
                stale = isinstance(exc, (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError))
                if not (stale and reused and attempt == 0):
                    raise
        raise AssertionError("unreachable")

    def _send(self, status: int, data: bytes, headers: Dict[str, str]) -> None:
        self._log(status)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _error(self, status: int, reason: str) -> None:
        payload = {"error": {"type": "proxy_error", "reason": reason}, "status": status}
        self._send(status, json.dumps(payload).encode(), {"Content-Type": "application/json; charset=UTF-8"})
