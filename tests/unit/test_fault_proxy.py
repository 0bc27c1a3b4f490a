"""Unit tests for the fault-injecting reverse proxy (real HTTP over 127.0.0.1, no OpenSearch)."""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
import requests

from opensearch_llm.testing.fault_proxy import FaultProxy, ProxyRecord, Rule, parse_rule

REPO_ROOT = Path(__file__).resolve().parents[2]


class _Echo(BaseHTTPRequestHandler):
    """Upstream stand-in: echoes the request as JSON.

    ``/slow`` sleeps 0.3 s, ``/status/N`` answers N, ``/text`` answers plain text,
    ``/hangup`` silently closes the connection after answering.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "_EchoServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen = {
            "method": self.command,
            "path": self.path,
            "body": body.decode("latin-1"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
        }
        with self.server.lock:
            self.server.seen.append(seen)
        status = 200
        if self.path.startswith("/slow"):
            time.sleep(0.3)
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        if self.path.startswith("/text"):
            data, ctype = b"plain words", "text/plain"
        else:
            data, ctype = json.dumps(seen).encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("X-Upstream", "echo")
        self.send_header("Set-Cookie", "a=1")
        self.send_header("Set-Cookie", "b=2")
        if status == 204:
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        if self.path.startswith("/hangup"):  # drop the keep-alive connection without announcing it
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET


class _EchoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Echo)
        self.lock = threading.Lock()
        self.seen: List[Dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture()
def upstream() -> Iterator[_EchoServer]:
    server = _EchoServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def proxy(upstream: _EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.url, seed=1234) as p:
        yield p


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# pass-through ------------------------------------------------------------------------------


def test_get_with_query_passes_through(proxy: FaultProxy, upstream: _EchoServer) -> None:
    r = requests.get(proxy.url + "/idx/_search?q=a%20b&size=3", headers={"X-Custom": "v1"}, timeout=10)
    assert r.status_code == 200
    seen = r.json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/idx/_search?q=a%20b&size=3"
    assert seen["headers"]["x-custom"] == "v1"
    assert seen["headers"]["host"] == upstream.url.split("//")[1]
    assert r.headers["X-Upstream"] == "echo"
    assert r.headers["Content-Type"] == "application/json"
    assert int(r.headers["Content-Length"]) == len(r.content)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_methods_and_json_body_pass_through(proxy: FaultProxy, method: str) -> None:
    payload = {"name": "conn", "nested": {"k": [1, 2, 3]}}
    r = requests.request(method, proxy.url + "/_plugins/_ml/connectors/_create", json=payload, timeout=10)
    assert r.status_code == 200
    assert r.json()["method"] == method
    assert json.loads(r.json()["body"]) == payload
    assert r.json()["headers"]["content-type"] == "application/json"


def test_head_has_no_body_and_keeps_upstream_length(proxy: FaultProxy) -> None:
    r = requests.head(proxy.url + "/idx", timeout=10)
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["Content-Length"]) > 0


def test_upstream_status_and_204_pass_through(proxy: FaultProxy) -> None:
    r = requests.get(proxy.url + "/status/404", timeout=10)
    assert r.status_code == 404
    assert r.json()["path"] == "/status/404"
    r = requests.delete(proxy.url + "/status/204", timeout=10)
    assert r.status_code == 204
    assert r.content == b""


def test_non_json_body_and_repeated_headers_pass_through(proxy: FaultProxy) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", "/text")
    resp = conn.getresponse()
    assert resp.read() == b"plain words"
    assert resp.msg.get_all("Set-Cookie") == ["a=1", "b=2"]
    conn.close()


def test_hop_by_hop_headers_dropped_and_host_rewritten(proxy: FaultProxy, upstream: _EchoServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
    conn.request("GET", "/h", headers={
        "Host": "example.invalid", "Connection": "keep-alive, X-Drop-Me", "Keep-Alive": "timeout=5",
        "Proxy-Authorization": "Basic eA==", "TE": "trailers", "Upgrade": "h2c", "X-Drop-Me": "1",
        "Authorization": "Basic YWRtaW46YWRtaW4=",
    })
    resp = conn.getresponse()
    seen = json.loads(resp.read())
    conn.close()
    headers = seen["headers"]
    assert headers["host"] == upstream.url.split("//")[1]
    assert headers["authorization"] == "Basic YWRtaW46YWRtaW4="
    for dropped in ("keep-alive", "proxy-authorization", "te", "upgrade", "x-drop-me"):
        assert dropped not in headers
    assert resp.getheader("Transfer-Encoding") is None


def test_large_body_round_trip(proxy: FaultProxy) -> None:
    blob = bytes(range(256)) * (3 * 1024 * 1024 // 256)  # 3 MiB
    r = requests.post(proxy.url + "/big", data=blob, headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 200
    assert r.json()["body"].encode("latin-1") == blob


def test_keep_alive_session_reuses_connection(proxy: FaultProxy, upstream: _EchoServer) -> None:
    with requests.Session() as s:
        for i in range(20):
            r = s.post(proxy.url + f"/ka/{i}", json={"i": i}, timeout=10)
            assert r.json()["path"] == f"/ka/{i}"
    assert len(upstream.seen) == 20


def test_stale_upstream_connection_is_retried(proxy: FaultProxy, upstream: _EchoServer) -> None:
    with requests.Session() as s:
        for i in range(3):
            r = s.post(proxy.url + f"/hangup/{i}", json={"i": i}, timeout=10)
            assert (r.status_code, r.json()["path"]) == (200, f"/hangup/{i}")
    assert [x["path"] for x in upstream.seen] == ["/hangup/0", "/hangup/1", "/hangup/2"]


def test_chunked_request_body_is_forwarded(proxy: FaultProxy, upstream: _EchoServer) -> None:
    def gen() -> Iterator[bytes]:
        yield b'{"part": '
        yield b'"one", '
        yield b'"x": "' + b"y" * 100_000 + b'"}'

    r = requests.post(proxy.url + "/chunked", data=gen(), headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200
    assert r.json()["body"] == '{"part": "one", "x": "' + "y" * 100_000 + '"}'
    assert "transfer-encoding" not in r.json()["headers"]
    assert int(r.json()["headers"]["content-length"]) == len(r.json()["body"])


def test_malformed_chunked_body_gets_400(proxy: FaultProxy) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:
        s.sendall(b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400")


# injected statuses -------------------------------------------------------------------------


def test_status_injection_default_opensearch_error(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(method="POST", path=r"/_plugins/_ml/connectors/_create", status=503))
    r = requests.post(proxy.url + "/_plugins/_ml/connectors/_create", json={}, timeout=10)
    assert r.status_code == 503
    assert r.json() == {
        "error": {"root_cause": [{"type": "fault_injected", "reason": "injected 503"}],
                  "type": "fault_injected", "reason": "injected 503"},
        "status": 503,
    }
    assert r.headers["Content-Type"].startswith("application/json")
    assert upstream.seen == []


def test_custom_body_and_retry_after_header(proxy: FaultProxy) -> None:
    proxy.add(Rule(path="/dict", status=429, body={"error": "too many"}, headers={"Retry-After": "1"}))
    proxy.add(Rule(path="/str", status=500, body="not json at all"))
    r = requests.get(proxy.url + "/dict", timeout=10)
    assert (r.status_code, r.json(), r.headers["Retry-After"]) == (429, {"error": "too many"}, "1")
    r = requests.get(proxy.url + "/str", timeout=10)
    assert (r.status_code, r.text) == (500, "not json at all")


def test_injected_answer_keeps_connection_usable(proxy: FaultProxy) -> None:
    proxy.add(Rule(path="/bad", status=500))
    with requests.Session() as s:
        assert s.get(proxy.url + "/bad", timeout=10).status_code == 500
        assert s.post(proxy.url + "/bad", data=b"x" * 1000, timeout=10).status_code == 500
        assert s.get(proxy.url + "/good", timeout=10).status_code == 200


def test_count_exhaustion(proxy: FaultProxy) -> None:
    rule = proxy.add(Rule(path="/x", status=503, count=2))
    codes = [requests.get(proxy.url + "/x", timeout=10).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]
    assert rule.applied == 2
    assert proxy.injected_count() == 2


def test_first_applicable_rule_wins(proxy: FaultProxy) -> None:
    proxy.add(Rule(path="/x", status=500, count=1))
    proxy.add(Rule(path="/x", status=503))
    codes = [requests.get(proxy.url + "/x", timeout=10).status_code for _ in range(3)]
    assert codes == [500, 503, 503]
    assert [r.rule for r in proxy.requests] == [0, 1, 1]


def test_rate_with_seed(upstream: _EchoServer) -> None:
    def run(seed: int) -> List[int]:
        with FaultProxy(upstream.url, seed=seed) as p, requests.Session() as s:
            p.add(Rule(path="/r", status=503, rate=0.3))
            return [s.get(p.url + "/r", timeout=10).status_code for _ in range(200)]

    codes = run(7)
    hit = codes.count(503)
    assert 30 <= hit <= 90
    assert codes.count(200) == 200 - hit
    assert run(7) == codes  # same seed, same pattern


def test_path_and_method_scoping(proxy: FaultProxy) -> None:
    proxy.add(Rule(method="POST", path=r"/_ml/models/\w+/_deploy$", status=500))
    assert requests.post(proxy.url + "/_ml/models/abc/_deploy", timeout=10).status_code == 500
    assert requests.get(proxy.url + "/_ml/models/abc/_deploy", timeout=10).status_code == 200
    assert requests.post(proxy.url + "/_ml/models/abc/_undeploy", timeout=10).status_code == 200
    assert requests.post(proxy.url + "/_ml/models/abc/_deploy?x=1", timeout=10).status_code == 200
    proxy.clear()
    assert requests.post(proxy.url + "/_ml/models/abc/_deploy", timeout=10).status_code == 200


def test_wildcard_method_and_query_matching(proxy: FaultProxy) -> None:
    proxy.add(Rule(method="*", path=r"refresh=true", status=409))
    assert requests.put(proxy.url + "/idx/_doc/1?refresh=true", json={}, timeout=10).status_code == 409
    assert requests.put(proxy.url + "/idx/_doc/1", json={}, timeout=10).status_code == 200


# reset, delay, after_upstream, rewrite -----------------------------------------------------


def test_reset_raises_connection_error(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(path="/boom", reset=True, count=1))
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + "/boom", json={"a": 1}, timeout=10)
    assert upstream.seen == []
    assert requests.post(proxy.url + "/boom", json={"a": 1}, timeout=10).status_code == 200
    proxy.add(Rule(path="/rst", reset=True))
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=10) as s:  # a real RST, not a FIN
        s.sendall(b"GET /rst HTTP/1.1\r\nHost: a\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            s.recv(4096)
    first = proxy.requests[0]
    assert (first.status, first.injected, first.rule) == (None, True, 0)


def test_delay_then_inject_and_delay_only_forwards(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(path="/slowfail", status=504, delay=0.3))
    proxy.add(Rule(path="/late", delay=0.3))
    t0 = time.monotonic()
    assert requests.get(proxy.url + "/slowfail", timeout=10).status_code == 504
    assert time.monotonic() - t0 >= 0.3
    t0 = time.monotonic()
    r = requests.get(proxy.url + "/late", timeout=10)
    assert time.monotonic() - t0 >= 0.3
    assert (r.status_code, r.json()["path"]) == (200, "/late")
    assert [s["path"] for s in upstream.seen] == ["/late"]
    assert [r.injected for r in proxy.requests] == [True, False]


def test_after_upstream_status(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(method="POST", path="/_create", status=504, after_upstream=True))
    r = requests.post(proxy.url + "/_plugins/_ml/connectors/_create", json={"n": 1}, timeout=10)
    assert r.status_code == 504
    assert r.json()["error"]["type"] == "fault_injected"
    assert [(s["method"], json.loads(s["body"])) for s in upstream.seen] == [("POST", {"n": 1})]


def test_after_upstream_reset(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(path="/_register", reset=True, after_upstream=True))
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url + "/_register", json={"n": 2}, timeout=10)
    assert [s["path"] for s in upstream.seen] == ["/_register"]


def test_respond_json_rewrites_upstream_answer(proxy: FaultProxy, upstream: _EchoServer) -> None:
    def rewrite(doc: Dict[str, Any]) -> Dict[str, Any]:
        return {"status": "FAILED", "was": doc["path"]}

    proxy.add(Rule(path="/_tasks/", respond_json=rewrite))
    r = requests.get(proxy.url + "/_tasks/abc", timeout=10)
    assert r.json() == {"status": "FAILED", "was": "/_tasks/abc"}
    assert int(r.headers["Content-Length"]) == len(r.content)
    assert r.headers["X-Upstream"] == "echo"
    assert len(upstream.seen) == 1
    proxy.add(Rule(path="/text", respond_json=rewrite))
    assert requests.get(proxy.url + "/text", timeout=10).text == "plain words"


def test_respond_json_callback_error_is_a_500(proxy: FaultProxy) -> None:
    proxy.add(Rule(path="/cb", respond_json=lambda doc: doc["missing"]))
    r = requests.get(proxy.url + "/cb", timeout=10)
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "proxy_error"


# upstream failure, concurrency, log ---------------------------------------------------------


def test_upstream_down_is_502() -> None:
    with FaultProxy(f"http://127.0.0.1:{_free_port()}") as p:
        r = requests.get(p.url + "/", timeout=10)
        assert r.status_code == 502
        body = r.json()
        assert body["status"] == 502
        assert body["error"]["type"] == "proxy_error"
        assert body["error"]["reason"]
        assert p.requests[0].status == 502


def test_concurrent_clients(proxy: FaultProxy, upstream: _EchoServer) -> None:
    proxy.add(Rule(path="/slow/fail", status=503))
    results: List[int] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        with requests.Session() as s:
            for j in range(5):
                path = "/slow/fail" if j == 0 else f"/slow/{i}/{j}"
                code = s.post(proxy.url + path, json={"i": i, "j": j}, timeout=20).status_code
                with lock:
                    results.append(code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 40
    assert results.count(503) == 8 and results.count(200) == 32
    assert len(upstream.seen) == 32
    assert len(proxy.requests) == 40


def test_request_log_and_counts(proxy: FaultProxy) -> None:
    proxy.add(Rule(method="POST", path="/_predict", status=500, count=1))
    requests.post(proxy.url + "/_plugins/_ml/models/m/_predict", json={}, timeout=10)
    requests.post(proxy.url + "/_plugins/_ml/models/m/_predict", json={}, timeout=10)
    requests.get(proxy.url + "/_cluster/health?wait_for_status=yellow", timeout=10)
    log = proxy.requests
    assert all(isinstance(r, ProxyRecord) for r in log)
    assert [(r.method, r.status, r.injected, r.rule) for r in log] == [
        ("POST", 500, True, 0), ("POST", 200, False, None), ("GET", 200, False, None)]
    assert log[2].path == "/_cluster/health?wait_for_status=yellow"
    assert log[0].time <= log[1].time <= log[2].time
    assert proxy.count() == 3
    assert proxy.count("POST") == 2
    assert proxy.count(path=r"_predict$") == 2
    assert proxy.count("GET", r"wait_for_status") == 1
    assert proxy.count("DELETE") == 0
    assert proxy.injected_count() == 1
    log.clear()  # a copy
    assert len(proxy.requests) == 3
    proxy.clear_log()
    assert proxy.requests == [] and proxy.injected_count() == 0


def test_lifecycle(upstream: _EchoServer) -> None:
    with pytest.raises(ValueError):
        FaultProxy("https://127.0.0.1:9200")
    p = FaultProxy(upstream.url + "/")
    assert p.start() is p.start()
    assert p.url == f"http://127.0.0.1:{p.port}" and p.port != 0
    with requests.Session() as s:
        assert s.get(p.url + "/a", timeout=10).status_code == 200
        p.stop()
        p.stop()
        with pytest.raises(requests.ConnectionError):
            s.get(p.url + "/a", timeout=10)


def test_parse_rule() -> None:
    r = parse_rule("POST:/_create:503:0.3")
    assert (r.method, r.path, r.status, r.rate, r.reset) == ("POST", "/_create", 503, 0.3, False)
    r = parse_rule("*:/_predict:reset")
    assert (r.method, r.path, r.status, r.reset, r.rate) == (None, "/_predict", None, True, 1.0)
    r = parse_rule("get:/a:b:429")
    assert (r.method, r.path, r.status) == ("GET", "/a:b", 429)
    for bad in ("POST:/x", "POST:/x:oops"):
        with pytest.raises(ValueError):
            parse_rule(bad)


def test_standalone_entry_point(upstream: _EchoServer) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "opensearch_llm.testing.fault_proxy", "--upstream", upstream.url,
           "--port", str(_free_port()), "--rule", "POST:/_create:503", "--rule", "*:/boom:reset"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 15)
        assert ready, "no startup line"
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("fault-proxy listening on http://127.0.0.1:") and line.endswith("-> " + upstream.url)
        url = line.split()[3]
        assert requests.post(url + "/_plugins/_ml/connectors/_create", json={}, timeout=10).status_code == 503
        assert requests.get(url + "/ok", timeout=10).json()["path"] == "/ok"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err  # SIGTERM is a clean shutdown
    assert err == ""


def test_after_upstream_delay_forwards_at_once_and_answers_late(upstream) -> None:
    with FaultProxy(upstream.url) as proxy:
        proxy.add(Rule(path="/slow-answer", delay=1.0, after_upstream=True))
        started = time.monotonic()
        with pytest.raises(requests.exceptions.ReadTimeout):
            requests.get(proxy.url + "/slow-answer", timeout=0.3)
        assert time.monotonic() - started < 1.0
        deadline = time.monotonic() + 2
        while not any(r.get("path") == "/slow-answer" for r in upstream.seen) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(r.get("path") == "/slow-answer" for r in upstream.seen), "the upstream must get the request before the answer is delayed"
