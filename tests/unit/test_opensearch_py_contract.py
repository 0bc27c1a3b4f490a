"""What ``opensearch_llm.client`` relies on inside opensearch-py, checked through a real HTTP exchange.

``HeaderKeepingConnection`` wraps ``self.pool.urlopen`` (to keep Retry-After) and overrides the
``log_request_success`` / ``log_request_fail`` hooks (to mask bodies); ``SeamTransport`` overrides
``Transport.perform_request``. An opensearch-py release that renames or stops calling any of these must fail here,
not silently unmask a credential in a debug log or lose the retry hint.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from opensearch_llm import client as seam
from opensearch_llm.client import ConnectionSettings, RetryPolicy, connect, retry_after_seconds
from opensearch_llm.errors import ClusterError
from opensearch_llm.secrets import Secret

SECRET = "sk-contract-0000000000000077"


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        throttled = self.path.startswith("/throttled")
        payload = json.dumps({"error": "slow down"} if throttled else {"ok": True}).encode()
        self.send_response(429 if throttled else 200)
        if throttled:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture
def server_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _client(url: str):
    return connect(ConnectionSettings(url=url, retry=RetryPolicy(attempts=1, sleep=lambda s: None), timeout=5))


def test_bodies_reach_opensearch_py_loggers_through_our_masking_hooks(server_url: str, caplog: pytest.LogCaptureFixture,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list = []
    masking = seam._masked_body
    monkeypatch.setattr(seam, "_masked_body", lambda body: seen.append(body) or masking(body))
    client = _client(server_url)
    with caplog.at_level(logging.DEBUG, logger="opensearch"):
        client.transport.perform_request("POST", "/ok", body={"credential": {"api_key": Secret(SECRET)}})
        with pytest.raises(ClusterError):
            client.transport.perform_request("POST", "/throttled", body={"key": Secret(SECRET)})
    assert len(seen) == 2 and all(SECRET.encode() in b if isinstance(b, bytes) else SECRET in b for b in seen), \
        "log_request_success / log_request_fail no longer receive the sent body"
    assert "api_key" in caplog.text and "slow down" in caplog.text, "request and response bodies are no longer logged"
    assert SECRET not in caplog.text + "".join(str(r.args) for r in caplog.records)


def test_the_connection_keeps_the_last_response_headers(server_url: str) -> None:
    client = _client(server_url)
    with pytest.raises(ClusterError) as refused:
        client.transport.perform_request("POST", "/throttled", body={})
    assert refused.value.status == 429
    assert retry_after_seconds() == 7.0, "pool.urlopen is no longer what sends the request"
