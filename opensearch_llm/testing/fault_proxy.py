"""A fault-injecting HTTP reverse proxy on ``127.0.0.1`` for integration tests against OpenSearch.

:class:`FaultProxy` forwards requests to an HTTP upstream faithfully (hop-by-hop headers
dropped, ``Host`` rewritten, chunked request bodies de-chunked) unless a :class:`Rule` injects
a status, a TCP reset, a delay, an "outcome unknown" fault or a JSON rewrite.  Standalone:
``python -m opensearch_llm.testing.fault_proxy --upstream URL --port N --rule 'POST:/_create:503:0.3'``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Sequence, Set, Tuple, Union
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "ProxyRecord", "Rule", "main", "parse_rule"]

_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "trailers", "upgrade"})
_UPSTREAM_ERRORS = (OSError, http.client.HTTPException)
_Reply = Tuple[int, str, List[Tuple[str, str]], bytes]


def _hop(name: str) -> bool:
    name = name.lower()
    return name in _HOP_BY_HOP or name.startswith("proxy-")


def default_error(status: int) -> Dict[str, Any]:
    """The OpenSearch-shaped error body an injected ``status`` answers with by default."""
    cause = {"type": "fault_injected", "reason": f"injected {status}"}
    return {"error": {"root_cause": [dict(cause)], **cause}, "status": status}


@dataclass
class Rule:
    """One fault.  Matches on ``method`` (None or ``*``: any) and ``path`` (regex searched in path+query).

    ``reset`` or ``status`` (+ ``body``/``headers``) answer instead of forwarding, or after
    forwarding when ``after_upstream``; ``respond_json`` rewrites the forwarded JSON answer;
    ``delay`` sleeps first (a delay-only rule forwards afterwards); with ``after_upstream`` and no
    status it forwards at once and delays only the answer (a slow server, not a late request).  ``rate`` is the chance a
    matching request is hit, ``count`` caps the hits; ``applied`` counts them.
    """

    method: Optional[str] = None
    path: Optional[str] = None
    status: Optional[int] = None
    body: Union[Dict[str, Any], str, None] = None
    headers: Optional[Dict[str, str]] = None
    reset: bool = False
    delay: float = 0.0
    rate: float = 1.0
    count: Optional[int] = None
    after_upstream: bool = False
    respond_json: Optional[Callable[[Any], Any]] = None
    applied: int = field(default=0, compare=False)

    def matches(self, method: str, path: str) -> bool:
        """True when ``method`` and ``path`` are in scope (ignores rate and count)."""
        if self.method is not None and self.method != "*" and self.method.upper() != method.upper():
            return False
        return self.path is None or re.search(self.path, path) is not None


@dataclass(frozen=True)
class ProxyRecord:
    """One request the proxy saw: ``status`` is None for a reset; ``rule`` is the matching rule's index."""

    method: str
    path: str
    status: Optional[int]
    injected: bool
    rule: Optional[int]
    time: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    proxy: "FaultProxy"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes
    server: _Server
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
        try:
            try:
                body = self._read_body()
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
            record = ProxyRecord(self.command, self.path, status, self._injected, self._index, self._started)
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
            except _UPSTREAM_ERRORS:
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
        except _UPSTREAM_ERRORS as exc:
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
            if not _hop(k) and (bodiless or k.lower() != "content-length"):
                self.send_header(k, v)
        if not bodiless:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if not bodiless:
            self.wfile.write(data)

    def _fetch(self, body: bytes) -> _Reply:
        proxy = self.server.proxy
        listed = {t.strip().lower() for t in self.headers.get("Connection", "").split(",")}
        skip = {"host", "content-length", "expect"} | listed
        headers = [(k, v) for k, v in self.headers.items() if not _hop(k) and k.lower() not in skip]
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
            except _UPSTREAM_ERRORS as exc:
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


class FaultProxy:
    """A reverse proxy on ``127.0.0.1`` in front of ``upstream`` (e.g. ``http://127.0.0.1:9200``).

    Use as a context manager or call :meth:`start`/:meth:`stop`; point the client at :attr:`url`.
    ``seed`` seeds the random generator behind :attr:`Rule.rate`.
    """

    upstream_timeout: float = 300.0

    def __init__(self, upstream: str, port: int = 0, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream = upstream.rstrip("/")
        self._host, self._uport = parts.hostname, parts.port or 80
        self._netloc = parts.netloc.rpartition("@")[2]
        self._prefix = parts.path.rstrip("/")
        self._port = port
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rules: List[Rule] = []
        self._log: List[ProxyRecord] = []
        self._conns: Set[socket.socket] = set()
        self._httpd: Optional[_Server] = None

    @property
    def port(self) -> int:
        """The bound port (the requested one before the first :meth:`start`; kept after :meth:`stop`)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL clients should use, ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "FaultProxy":
        """Bind and serve in a daemon thread; returns self.  Idempotent."""
        if self._httpd is None:
            httpd = _Server(("127.0.0.1", self._port), _Handler)
            httpd.proxy = self
            self._httpd, self._port = httpd, int(httpd.server_address[1])
            threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                             name=f"fault-proxy-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and cut open client connections.  Idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for sock in conns:  # wake handler threads idling on keep-alive connections
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add(self, rule: Rule) -> Rule:
        """Append ``rule`` (checked after the existing ones) and return it."""
        if rule.path is not None:
            re.compile(rule.path)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule: the proxy becomes a plain pass-through."""
        with self._lock:
            self._rules.clear()

    @property
    def requests(self) -> List[ProxyRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def clear_log(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self._log.clear()

    def injected_count(self) -> int:
        """How many logged requests got a fault (status, reset or rewritten body)."""
        with self._lock:
            return sum(1 for r in self._log if r.injected)

    def count(self, method: Optional[str] = None, path: Optional[str] = None) -> int:
        """How many logged requests match ``method`` and ``path`` (regex searched in path+query)."""
        probe = Rule(method=method, path=path)
        with self._lock:
            return sum(1 for r in self._log if probe.matches(r.method, r.path))

    def _select(self, method: str, path: str) -> Tuple[Optional[int], Optional[Rule]]:
        with self._lock:
            for i, rule in enumerate(self._rules):
                if not rule.matches(method, path) or (rule.count is not None and rule.applied >= rule.count):
                    continue
                if rule.rate < 1.0 and self._rng.random() >= rule.rate:
                    continue
                rule.applied += 1
                return i, rule
        return None, None

    def _track(self, sock: socket.socket, alive: bool) -> None:
        with self._lock:
            (self._conns.add if alive else self._conns.discard)(sock)


def parse_rule(spec: str) -> Rule:
    """Parse ``METHOD:PATHREGEX:STATUS[:RATE]`` (``*`` = any method, STATUS ``reset`` = reset)."""
    parts = spec.split(":")
    if len(parts) < 3:
        raise ValueError(f"rule {spec!r} is not METHOD:PATHREGEX:STATUS[:RATE]")
    rate = 1.0
    if len(parts) >= 4 and re.fullmatch(r"\d+|reset", parts[-2]) and re.fullmatch(r"[\d.]+", parts[-1]):
        rate, parts = float(parts[-1]), parts[:-1]
    method, path, status = parts[0], ":".join(parts[1:-1]), parts[-1]
    if status != "reset" and not status.isdigit():
        raise ValueError(f"rule {spec!r}: status must be a number or 'reset'")
    return Rule(method=None if method in ("", "*") else method.upper(), path=path or None,
                status=None if status == "reset" else int(status), reset=status == "reset", rate=rate)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point: run a proxy until SIGINT/SIGTERM."""
    ap = argparse.ArgumentParser(prog="python -m opensearch_llm.testing.fault_proxy",
                                 description="Fault-injecting HTTP reverse proxy on 127.0.0.1.")
    ap.add_argument("--upstream", default="http://127.0.0.1:9200", help="upstream base URL (http only)")
    ap.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--seed", type=int, default=0, help="random seed for rule rates")
    ap.add_argument("--rule", action="append", default=[], metavar="METHOD:PATHREGEX:STATUS[:RATE]")
    args = ap.parse_args(argv)
    try:
        proxy = FaultProxy(args.upstream, args.port, args.seed)
        for spec in args.rule:
            proxy.add(parse_rule(spec))
    except (ValueError, re.error) as exc:
        ap.error(str(exc))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with proxy:
        print(f"fault-proxy listening on {proxy.url} -> {proxy.upstream}", flush=True)
        while not stop.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
