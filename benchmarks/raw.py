"""The raw baseline: the minimal ML Commons REST sequence with plain ``requests``, as its own process.

    python benchmarks/raw.py up URL BASE_URL KEY STATE_FILE [--poll SECONDS]
    python benchmarks/raw.py down URL STATE_FILE
    python benchmarks/raw.py predict URL MODEL_ID
    python benchmarks/raw.py delete-each URL IDS_FILE      # sweep baseline: one by one, in order
    python benchmarks/raw.py --stdlib up|down|predict ...  # the stdlib floor: the same sequence, no third-party import
    python benchmarks/raw.py --opensearchpy up|down|predict ...  # the opensearch-py floor: the same sequence sent
                                                                  # through opensearch-py's client

This is what a careful hand-written script does, nothing more: no reads before writes, no
journal, no validation. ``--poll 5`` reproduces the seed scripts' 5 s deploy polling.
``--stdlib`` sends the same requests through ``urllib.request`` (a new connection each, as urllib
does) and imports nothing outside the standard library: the floor a fresh process cannot beat.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Optional

ML = "/_plugins/_ml"
TRUSTED = "plugins.ml_commons.trusted_connector_endpoints_regex"
PRIVATE = "plugins.ml_commons.connector.private_ip_enabled"
STDLIB = False  # set by --stdlib
OPENSEARCHPY = False  # set by --opensearchpy


class _Reply:
    """The little of ``requests.Response`` the sequence uses."""

    def __init__(self, status_code: int, text: str, url: str) -> None:
        self.status_code, self.text, self.url = status_code, text, url

    def json(self) -> Any:
        return json.loads(self.text)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"{self.status_code} for {self.url}: {self.text[:500]}")


class StdlibSession:
    """``requests.Session``'s get/post/put/delete(url, json=...) on ``urllib.request`` (no proxies)."""

    def __init__(self) -> None:
        self._open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open

    def _send(self, method: str, url: str, body: Any = None) -> _Reply:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with self._open(req) as answer:
                return _Reply(answer.status, answer.read().decode(), url)
        except urllib.error.HTTPError as exc:
            return _Reply(exc.code, exc.read().decode(), url)

    def get(self, url: str) -> _Reply:
        return self._send("GET", url)

    def post(self, url: str, json: Optional[Any] = None) -> _Reply:  # noqa: A002 - requests' keyword
        return self._send("POST", url, json)

    def put(self, url: str, json: Optional[Any] = None) -> _Reply:  # noqa: A002
        return self._send("PUT", url, json)

    def delete(self, url: str) -> _Reply:
        return self._send("DELETE", url)


class OpensearchpySession(StdlibSession):
    """The same calls through one ``opensearchpy.OpenSearch`` client (what a script on opensearch-py sends)."""

    def __init__(self) -> None:
        import opensearchpy

        self._errors = opensearchpy.TransportError
        self._clients: dict = {}
        self._make = opensearchpy.OpenSearch

    def _send(self, method: str, url: str, body: Any = None) -> _Reply:
        parts = urllib.parse.urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        client = self._clients.setdefault(origin, self._make(hosts=[origin], max_retries=0, timeout=60))
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            answer = client.transport.perform_request(method, path, body=body)
            return _Reply(200, json.dumps(answer), url)
        except self._errors as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 599
            return _Reply(status, json.dumps(exc.info) if isinstance(exc.info, dict) else str(exc.info), url)


def session() -> Any:
    """A ``requests.Session``, or the stdlib stand-in (``--stdlib``), or an opensearch-py client (``--opensearchpy``)."""
    if STDLIB:
        return StdlibSession()
    if OPENSEARCHPY:
        return OpensearchpySession()
    import requests

    return requests.Session()


def up(url: str, base_url: str, key: str, state_file: str, poll: float = 0.01) -> None:
    s = session()
    defaults = s.get(f"{url}/_cluster/settings?include_defaults=true&flat_settings=true").json()
    trusted = defaults["persistent"].get(TRUSTED) or defaults["defaults"][TRUSTED]
    regex = "^" + re.escape(base_url) + "/.*$"
    s.put(f"{url}/_cluster/settings", json={"persistent": {TRUSTED: [*trusted, regex], PRIVATE: True}}).raise_for_status()
    group = s.post(f"{url}{ML}/model_groups/_register", json={"name": f"raw-{time.time_ns()}"}).json()["model_group_id"]
    connector = s.post(f"{url}{ML}/connectors/_create", json={
        "name": "raw", "version": "1", "protocol": "http",
        "parameters": {"base_url": base_url, "model": "deepseek-flash"}, "credential": {"api_key": key},
        "actions": [{"action_type": "predict", "method": "POST", "url": "${parameters.base_url}/chat/completions",
                     "headers": {"Content-Type": "application/json", "Authorization": "Bearer ${credential.api_key}"},
                     "request_body": '{ "model": "${parameters.model}", "messages": ${parameters.messages}, '
                                     '"thinking": {"type": "disabled"} }'}],
    }).json()["connector_id"]
    model = s.post(f"{url}{ML}/models/_register?deploy=true", json={
        "name": "raw", "function_name": "remote", "model_group_id": group, "connector_id": connector}).json()["model_id"]
    while s.get(f"{url}{ML}/models/{model}").json()["model_state"] != "DEPLOYED":
        time.sleep(poll)
    answer = s.post(f"{url}{ML}/models/{model}/_predict",
                    json={"parameters": {"messages": [{"role": "user", "content": "Reply with the single word pong"}]}})
    answer.raise_for_status()
    with open(state_file, "w") as fh:
        json.dump({"group": group, "connector": connector, "model": model}, fh)


def down(url: str, state_file: str) -> None:
    s = session()
    ids = json.load(open(state_file))
    s.post(f"{url}{ML}/models/{ids['model']}/_undeploy").raise_for_status()
    s.delete(f"{url}{ML}/models/{ids['model']}").raise_for_status()
    s.delete(f"{url}{ML}/connectors/{ids['connector']}").raise_for_status()
    s.delete(f"{url}{ML}/model_groups/{ids['group']}").raise_for_status()
    s.put(f"{url}/_cluster/settings", json={"persistent": {TRUSTED: None, PRIVATE: None}}).raise_for_status()


def predict(url: str, model: str) -> None:
    r = session().post(f"{url}{ML}/models/{model}/_predict",
                      json={"parameters": {"messages": [{"role": "user", "content": "hi"}]}})
    r.raise_for_status()
    print(r.json()["inference_results"][0]["output"][0]["dataAsMap"]["choices"][0]["message"]["content"])


def _delete(s: Any, url: str) -> None:
    # ML Commons answers 409 for a moment after the model that used a connector is deleted
    for _ in range(20):
        r = s.delete(url)
        if r.status_code != 409:
            r.raise_for_status()
            return
        time.sleep(0.1)
    r.raise_for_status()


def delete_each(url: str, ids_file: str) -> None:
    s = session()
    order = {"model": 0, "connector": 1, "model_group": 2}
    # kind by kind: ML Commons' "models still using this connector" check matches connector ids by
    # token, so a connector can be blocked by another set's model that is not deleted yet
    for item in sorted(json.load(open(ids_file)), key=lambda i: order[i["kind"]]):
        if item["kind"] == "model":
            s.post(f"{url}{ML}/models/{item['id']}/_undeploy")
            _delete(s, f"{url}{ML}/models/{item['id']}")
        elif item["kind"] == "connector":
            _delete(s, f"{url}{ML}/connectors/{item['id']}")
        else:
            _delete(s, f"{url}{ML}/model_groups/{item['id']}")


if __name__ == "__main__":
    argv = sys.argv[1:]
    STDLIB, OPENSEARCHPY = "--stdlib" in argv, "--opensearchpy" in argv
    cmd, *rest = [a for a in argv if a not in ("--stdlib", "--opensearchpy")]
    if cmd == "up":
        poll = float(rest[rest.index("--poll") + 1]) if "--poll" in rest else 0.01
        up(*rest[:4], poll=poll)
    elif cmd == "down":
        down(*rest[:2])
    elif cmd == "predict":
        predict(*rest[:2])
    elif cmd == "delete-each":
        delete_each(*rest[:2])
    else:
        sys.exit(f"unknown command {cmd}")
