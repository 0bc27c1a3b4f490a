"""A recording, in-memory OpenSearch + ML Commons double for unit tests, plugged in at the HTTP connection.

:class:`MLDouble` holds cluster settings, model groups, connectors, models, search and ingest pipelines,
user indices, agents and memories, answers the REST calls the toolkit makes the way ML Commons
2.19/3.x does (routes in :mod:`tests.unit.ml_double_routes` and :mod:`tests.unit.ml_double_models`),
records every request and injects faults.
:func:`double_client` builds the client exactly like :func:`opensearch_llm.client.connect` and
swaps in :class:`DoubleConnection`, so every call goes through the real ``SeamTransport``
(secret reveal, retries, error translation)::

    double = MLDouble(version="2.19.6", deploy_polls=1)
    client = double_client(double)                       # retries never sleep
    double.fail_status("GET", r"/_cluster/settings$", 503, times=2)
    double.fail_timeout("POST", r"/connectors/_create$")  # applied, then the client gives up
    assert double.count("POST", r"/_create$") == 1

Deterministic (seeded ids, a counter clock), no sleeping, no threads; thread-safe under one lock.
"""

from __future__ import annotations

import json
import random
import re
import string
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Optional, Union
from urllib.parse import urlencode

import urllib3
from opensearchpy import OpenSearch
from opensearchpy.connection import Connection
from opensearchpy.exceptions import ConnectionError as OSConnectionError
from opensearchpy.exceptions import ConnectionTimeout

from opensearch_llm.client import ConnectionSettings, RetryPolicy, connect
from tests.unit import ml_double_models, ml_double_routes as routes  # noqa: F401 - importing registers routes
from tests.unit.ml_double_models import MARKER, sample_connector, sample_model  # noqa: F401 - re-exported

DEFAULT_TRUSTED = (
    r"^https://runtime\.sagemaker\..*[a-z0-9-]\.amazonaws\.com/.*$",
    r"^https://api\.openai\.com/.*$",
    r"^https://api\.cohere\.ai/.*$",
    r"^https://bedrock-runtime\..*[a-z0-9-]\.amazonaws\.com/.*$",
)
JSON = "application/json; charset=UTF-8"
ID_CHARS = string.ascii_letters + string.digits


@dataclass
class Fault:
    """One injected fault for the next ``times`` requests matching ``method`` and ``path``.

    ``path`` is a regex searched in the request path (without the query string); ``method`` ``*``
    matches any. ``kind``: ``status`` (answer ``status`` with ``body``/``headers``), ``timeout``
    (raise ConnectionTimeout), ``unreachable`` (raise ConnectionError; the request never arrives),
    ``garbage`` (answer 200 with ``body`` text that is not JSON). ``after``: apply the request to
    the state first (the server acted); defaults to True for ``timeout`` only. ``times=None``:
    every matching request. ``hits`` counts the injections.
    """

    method: str
    path: str
    kind: str = "status"
    status: int = 503
    body: Any = None
    headers: dict = field(default_factory=dict)
    times: Optional[int] = 1
    after: Optional[bool] = None
    content_type: str = JSON
    hits: int = 0

    def __post_init__(self) -> None:
        if self.kind not in ("status", "timeout", "unreachable", "garbage"):
            raise ValueError(f"unknown fault kind {self.kind!r}")
        self.after = (self.kind == "timeout") if self.after is None else self.after
        if self.kind == "unreachable":
            self.after = False

    def matches(self, method: str, path: str) -> bool:
        live = self.times is None or self.hits < self.times
        return live and self.method in ("*", method) and re.search(self.path, path) is not None


@dataclass(frozen=True)
class Request:
    """One request the connection sent: ``applied`` is False when a fault answered before the state changed."""

    method: str
    path: str
    params: dict
    body: Any
    status: Optional[int]
    fault: Optional[str]
    applied: bool


def remote_error(status: int, message: str) -> dict:
    """The error body ML Commons answers ``_predict`` with when the LLM provider fails (use with fail_status)."""
    reason = "Error from remote service: " + json.dumps({"error": {"message": message}})
    return routes.Refused(status, reason).body()


class MLDouble:
    """The fake cluster. Options (all also plain attributes, changeable later):

    ``version`` (``/``, ``_nodes``; 3.x validates names), ``ml_plugin``, ``trusted`` (the default
    trusted-endpoint regexes), ``private_ip_check`` (``predict``: as ML Commons, at call time;
    ``create``: also refuse at connector creation), ``private_hosts`` (host names treated as private;
    no DNS), ``deploy_polls`` (GETs a model reads DEPLOYING after a deploy starts), ``deploy_result``
    (``DEPLOYED`` or ``DEPLOY_FAILED``), ``auto_deploy`` (default of the 2.13+ setting),
    ``integ_zip`` (DELETE of a missing model answers 500 as the integ-test zip does; else 404),
    ``answer`` (predict text, or a callable of the request parameters), ``seed`` / ``id_factory(kind)``
    (resource ids), ``search_404_until_created`` (searching a kind never created answers 404).
    """

    def __init__(self, version: str = "2.19.6", *, ml_plugin: bool = True, trusted: Iterable[str] = DEFAULT_TRUSTED,
                 private_ip_check: str = "predict", private_hosts: Iterable[str] = ("host.docker.internal",),
                 deploy_polls: int = 1, deploy_result: str = "DEPLOYED", auto_deploy: bool = True,
                 integ_zip: bool = True, answer: Union[str, Callable[[dict], str]] = "pong", seed: int = 0,
                 id_factory: Optional[Callable[[str], str]] = None, search_404_until_created: bool = False,
                 roles: Iterable[str] = ("cluster_manager", "data", "ingest", "ml")) -> None:
        self.version, self.ml_plugin, self.roles = version, ml_plugin, tuple(roles)
        self.private_ip_check, self.private_hosts = private_ip_check, frozenset(private_hosts)
        self.deploy_polls, self.deploy_result, self.integ_zip = deploy_polls, deploy_result, integ_zip
        self.answer, self.id_factory, self.search_404_until_created = answer, id_factory, search_404_until_created
        self.lock = threading.RLock()
        self.persistent: dict = {}
        self.transient: dict = {}
        self.defaults: dict = {
            routes.TRUSTED: list(trusted), routes.PRIVATE_IP: "false", routes.AUTO_DEPLOY: str(auto_deploy).lower(),
            "plugins.ml_commons.remote_inference.enabled": "true", "plugins.ml_commons.only_run_on_ml_node": "true",
        }
        self.model_groups: dict = {}
        self.connectors: dict = {}
        self.models: dict = {}
        self.polls_left: dict = {}
        self.indices: set = set()
        self.search_pipelines: dict = {}  # name -> body
        self.ingest_pipelines: dict = {}  # name -> body
        self.user_indices: dict = {}  # name -> {"settings", "mappings", "docs": {id: source}}
        self.agents: dict = {}
        self.memories: dict = {}  # id -> {"name", "create_time", "updated_time", "messages": [...]}
        self.faults: list = []
        self.log: list = []
        self._rng = random.Random(seed)
        self._clock = 1_700_000_000_000

    # --- state ---------------------------------------------------------------------------------
    def store(self, kind: str) -> dict:
        return {"model_group": self.model_groups, "connector": self.connectors, "model": self.models,
                "agent": self.agents}[kind]

    def effective(self, key: str) -> Any:
        """A setting as the cluster applies it: transient, else persistent, else default."""
        for layer in (self.transient, self.persistent, self.defaults):
            if key in layer:
                return layer[key]
        return None

    def now(self) -> int:
        self._clock += 1000
        return self._clock

    def new_id(self, kind: str) -> str:
        if self.id_factory:
            return self.id_factory(kind)
        return "".join(self._rng.choice(ID_CHARS) for _ in range(20))

    def add(self, kind: str, doc: dict, rid: Optional[str] = None) -> str:
        """Store ``doc`` as a ``kind`` (model_group, connector, model) without a request; return its id."""
        with self.lock:
            rid = rid or self.new_id(kind)
            self.store(kind)[rid] = doc
            self.indices.add(kind)
            return rid

    def set_state(self, model_id: str, state: str) -> None:
        """Force a model's ``model_state`` (ends any deploy in progress)."""
        with self.lock:
            self.polls_left.pop(model_id, None)
            self.models[model_id]["model_state"] = state

    # --- faults --------------------------------------------------------------------------------
    def add_fault(self, fault: Fault) -> Fault:
        with self.lock:
            self.faults.append(fault)
        return fault

    def fail_status(self, method: str, path: str, status: int = 503, *, body: Any = None,
                    headers: Optional[dict] = None, times: Optional[int] = 1, after: bool = False) -> Fault:
        """Answer ``status`` with ``body`` (default: an OpenSearch error shape); ``after``: the state changed first."""
        return self.add_fault(Fault(method, path, "status", status, body, dict(headers or {}), times, after))

    def fail_timeout(self, method: str, path: str, *, times: Optional[int] = 1, after: bool = True) -> Fault:
        """Raise ConnectionTimeout; by default after applying the request (the server acted, the client gave up)."""
        return self.add_fault(Fault(method, path, "timeout", times=times, after=after))

    def fail_unreachable(self, method: str, path: str, *, times: Optional[int] = 1) -> Fault:
        """Raise ConnectionError (connection refused) before the request reaches the state."""
        return self.add_fault(Fault(method, path, "unreachable", times=times))

    def fail_garbage(self, method: str, path: str, *, text: str = "<html><body>502 Bad Gateway</body></html>",
                     content_type: str = JSON, times: Optional[int] = 1, after: bool = False) -> Fault:
        """Answer 200 with ``text`` (not JSON) under ``content_type``."""
        return self.add_fault(Fault(method, path, "garbage", 200, text, {}, times, after, content_type))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # --- records -------------------------------------------------------------------------------
    def requests(self, method: Optional[str] = None, path: Optional[str] = None) -> list:
        """Recorded requests, optionally filtered by method (``*`` any) and a path regex (searched)."""
        probe = Fault(method or "*", path or "", times=None)
        with self.lock:
            return [r for r in self.log if probe.matches(r.method, r.path)]

    def count(self, method: Optional[str] = None, path: Optional[str] = None) -> int:
        return len(self.requests(method, path))

    def client(self, settings: Optional[ConnectionSettings] = None) -> OpenSearch:
        return double_client(self, settings)

    # --- the wire ------------------------------------------------------------------------------
    def handle(self, method: str, path: str, params: Optional[dict], body: Any) -> tuple:
        """Answer one request: ``(status, headers, text)``, or raise an opensearch-py connection error."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = text
        params = {k: v.decode() if isinstance(v, bytes) else str(v) for k, v in (params or {}).items()}
        with self.lock:
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault:
                fault.hits += 1
            status, answer, applied = None, None, not (fault and not fault.after)
            if applied:
                status, answer = routes.dispatch(self, method, path, params, parsed)
            reply = self._reply(fault, method, path, params, status, answer)
            self.log.append(Request(method, path, params, parsed, reply[0] if reply else None,
                                    fault.kind if fault else None, applied))
        if reply is None:
            raise self._raised(fault, method, path, params)
        return reply

    def _reply(self, fault: Optional[Fault], method: str, path: str, params: dict, status: Any,
               answer: Any) -> Optional[tuple]:
        if fault is None:
            return status, {"content-type": JSON}, "" if method == "HEAD" else json.dumps(answer)
        if fault.kind == "status":
            body = fault.body if fault.body is not None else routes.Refused(
                fault.status, f"injected {fault.status}", "fault_injected").body()
            text = body if isinstance(body, str) else json.dumps(body)
            return fault.status, {"content-type": fault.content_type, **fault.headers}, text
        if fault.kind == "garbage":
            return 200, {"content-type": fault.content_type, **fault.headers}, str(fault.body)
        return None

    @staticmethod
    def _raised(fault: Any, method: str, path: str, params: dict) -> Exception:
        url = "http://double:9200" + path + ("?" + urlencode(params) if params else "")
        if fault.kind == "timeout":
            cause = urllib3.exceptions.ReadTimeoutError(None, url, "Read timed out. (injected)")
            return ConnectionTimeout("TIMEOUT", str(cause), cause)
        cause = urllib3.exceptions.NewConnectionError(
            None, "Failed to establish a new connection: [Errno 111] Connection refused (injected)")
        return OSConnectionError("N/A", str(cause), cause)


class DoubleConnection(Connection):
    """An opensearch-py connection answered by :attr:`double` (bound per client by :func:`double_client`)."""

    double: MLDouble

    def perform_request(self, method: str, url: str, params: Any = None, body: Any = None, timeout: Any = None,
                        ignore: Any = (), headers: Any = None) -> Any:
        status, response_headers, text = self.double.handle(method, self.url_prefix + url, params, body)
        _keep_headers(response_headers)
        if not 200 <= status < 300 and status not in ignore:
            self._raise_error(status, text, response_headers.get("content-type"))
        return status, response_headers, text


def _keep_headers(headers: dict) -> None:
    # what client.HeaderKeepingConnection does for real responses (Retry-After of a 429)
    from opensearch_llm import client as seam

    keeper = getattr(seam, "_last_response", None)
    if keeper is not None:
        keeper.headers = dict(headers)


def no_sleep_settings(**overrides: Any) -> ConnectionSettings:
    """ConnectionSettings for the double whose retries never sleep."""
    return ConnectionSettings(**{"url": "http://double:9200", "retry": RetryPolicy(sleep=lambda s: None),
                                 **overrides})


def double_client(double: MLDouble, settings: Optional[ConnectionSettings] = None) -> OpenSearch:
    """The client :func:`connect` builds for ``settings``, with its connection answered by ``double``."""
    client = connect(settings or no_sleep_settings())
    transport = client.transport
    transport.connection_pool.close()
    del transport.connection_pool  # else set_connections keeps the connection it has for the same host
    transport.connection_class = type("BoundDoubleConnection", (DoubleConnection,), {"double": double})
    transport.set_connections(transport.hosts)
    transport.seed_connections = list(transport.connection_pool.connections)
    return client
