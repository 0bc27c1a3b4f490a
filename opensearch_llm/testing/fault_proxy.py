"""A fault-injecting HTTP reverse proxy on ``127.0.0.1`` for integration tests against OpenSearch.

:class:`FaultProxy` forwards requests to an HTTP upstream faithfully (hop-by-hop headers
dropped, ``Host`` rewritten, chunked request bodies de-chunked) unless a :class:`Rule` injects
a status, a TCP reset, a delay, an "outcome unknown" fault or a JSON rewrite.  Standalone:
``python -m opensearch_llm.testing.fault_proxy --upstream URL --port N --rule 'POST:/_create:503:0.3'``.
"""

from __future__ import annotations

import argparse
import random
import re
import signal
import socket
import threading
from typing import List, Optional, Sequence, Set, Tuple
from urllib.parse import urlsplit

__all__ = ["FaultProxy", "ProxyRecord", "Rule", "default_error", "main", "parse_rule"]

from opensearch_llm.testing._proxy_handler import ProxyHandler, ProxyServer
from opensearch_llm.testing._proxy_rules import ProxyRecord, Rule, default_error, parse_rule  # noqa: F401 - public


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
        self._httpd: Optional[ProxyServer] = None

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
            httpd = ProxyServer(("127.0.0.1", self._port), ProxyHandler)
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
