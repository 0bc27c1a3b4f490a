"""Connection errors name their fix: untrusted certificate, refused password, TLS/plain-HTTP mismatch (issue 13).

Real servers on 127.0.0.1 (a TLS one with a certificate made here by ``openssl``); no OpenSearch needed.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from opensearch_llm.client import ConnectionSettings, RetryPolicy, connect
from opensearch_llm.errors import AuthenticationError, ClusterError

NO_SLEEP = RetryPolicy(sleep=lambda s: None)
pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server API
        self.server.requests += 1  # type: ignore[attr-defined]
        if self.server.password and self.headers.get("Authorization") != self.server.password:  # type: ignore
            body, status = b'{"error":"Unauthorized"}', 401
        else:
            body, status = json.dumps({"version": {"number": "2.19.1"}, "cluster_uuid": "u"}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server(tls: Path | None = None, password: str | None = None) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests, server.handshakes, server.password = 0, 0, password  # type: ignore[attr-defined]
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls / "cert.pem", tls / "key.pem")
        wrapped = context.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)

        def accept() -> tuple:
            conn, addr = wrapped.accept()
            server.handshakes += 1  # type: ignore[attr-defined]
            try:
                conn.do_handshake()
            except (ssl.SSLError, OSError):
                pass
            return conn, addr

        server.socket = wrapped
        server.get_request = accept  # type: ignore[method-assign]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    return folder


@pytest.fixture
def tls_server(tls_files: Path) -> Iterator[ThreadingHTTPServer]:
    server = _server(tls_files)
    yield server
    server.shutdown()


def _url(server: ThreadingHTTPServer, scheme: str) -> str:
    return f"{scheme}://127.0.0.1:{server.server_address[1]}"


def test_an_untrusted_certificate_is_tried_once_and_names_the_fix(tls_server: ThreadingHTTPServer) -> None:
    client = connect(ConnectionSettings(url=_url(tls_server, "https"), retry=NO_SLEEP))
    with pytest.raises(ClusterError) as caught:
        client.info()
    assert "is not trusted" in str(caught.value) and "--ca-certs" in str(caught.value)
    assert "--insecure" in str(caught.value)
    assert tls_server.handshakes == 1  # type: ignore[attr-defined]


def test_the_right_ca_is_trusted(tls_server: ThreadingHTTPServer, tls_files: Path) -> None:
    client = connect(ConnectionSettings(url=_url(tls_server, "https"), ca_certs=str(tls_files / "cert.pem")))
    assert client.info()["version"]["number"] == "2.19.1"


def test_insecure_warns_once_not_per_request(tls_server: ThreadingHTTPServer, recwarn: pytest.WarningsRecorder) -> None:
    client = connect(ConnectionSettings(url=_url(tls_server, "https"), verify=False))
    for _ in range(5):
        client.info()
    messages = [str(w.message) for w in recwarn.list]
    assert len([m for m in messages if "TLS verification is off" in m]) == 1
    assert not [m for m in messages if "Unverified HTTPS request" in m]


def test_https_to_a_plain_http_port_says_so() -> None:
    server = _server()
    try:
        client = connect(ConnectionSettings(url=_url(server, "https"), retry=NO_SLEEP))
        with pytest.raises(ClusterError) as caught:
            client.info()
        assert "does not speak TLS" in str(caught.value) and "use http://" in str(caught.value)
    finally:
        server.shutdown()


def test_plain_http_to_a_tls_port_says_so(tls_server: ThreadingHTTPServer) -> None:
    client = connect(ConnectionSettings(url=_url(tls_server, "http"), retry=NO_SLEEP))
    with pytest.raises(ClusterError) as caught:
        client.info()
    assert "use https://" in str(caught.value)


def test_a_refused_password_is_one_request_even_when_reads_run_in_parallel() -> None:
    import base64

    good = "Basic " + base64.b64encode(b"admin:right-password-123").decode()
    server = _server(password=good)
    try:
        client = connect(ConnectionSettings.resolve(_url(server, "http"), "admin", "wrong-password-456", env={}))
        with ThreadPoolExecutor(5) as pool:
            outcomes = list(pool.map(lambda _i: _catch(client.info), range(5)))
        assert all(isinstance(o, AuthenticationError) for o in outcomes), outcomes
        assert "authentication failed for user admin" in str(outcomes[0])
        assert "OPENSEARCH_USERNAME / OPENSEARCH_PASSWORD" in str(outcomes[0])
        assert server.requests == 1  # type: ignore[attr-defined]
    finally:
        server.shutdown()


def _catch(call: object) -> object:
    try:
        return call()  # type: ignore[operator]
    except Exception as exc:  # noqa: BLE001 - the test inspects it
        return exc
