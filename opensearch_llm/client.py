"""Connection settings and the one transport seam over opensearch-py.

Every request of the toolkit goes through :class:`SeamTransport`: it reveals
:class:`~opensearch_llm.secrets.Secret` values only while serialising the body, retries
idempotent requests with tenacity, and turns opensearch-py errors into
:class:`~opensearch_llm.errors.ClusterError` with method, path, status and a masked excerpt.
"""

from __future__ import annotations

import base64
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Union

import threading

import urllib3
from opensearchpy import OpenSearch, Transport, Urllib3HttpConnection
from opensearchpy import exceptions as osx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential, wait_random

from opensearch_llm.client_errors import is_final, translate
from opensearch_llm.errors import AuthenticationError, ClusterError
from opensearch_llm.secrets import Secret, mask_text, register_secret, reveal

log = logging.getLogger(__name__)
RETRY_STATUSES = (429, 502, 503, 504)
IDEMPOTENT_POST_SUFFIXES = ("/_search", "/_undeploy", "/_deploy", "/_count")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long idempotent requests are retried."""

    attempts: int = 5
    max_delay: float = 30.0
    initial_wait: float = 0.1
    max_wait: float = 2.0
    sleep: Callable[[float], None] = time.sleep


@dataclass(frozen=True)
class ConnectionSettings:
    """Where and how to reach the cluster."""

    url: str = "http://localhost:9200"
    username: Optional[str] = None
    password: Union[Secret, str, None] = None  # a str is wrapped as a Secret
    ca_certs: Optional[str] = None
    verify: bool = True
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if isinstance(self.password, str):  # a plain string would print itself in a repr or a traceback
            object.__setattr__(self, "password", Secret(self.password))

    @classmethod
    def resolve(cls, url: Optional[str] = None, username: Optional[str] = None,
                password: Optional[str] = None, ca_certs: Optional[str] = None,
                insecure: bool = False, env: Optional[Mapping[str, str]] = None,
                timeout: float = 30.0,
                local_node: Optional[Callable[[Mapping[str, str]], Optional[dict]]] = None) -> "ConnectionSettings":
        """Options first, then ``OPENSEARCH_*`` variables, then ``local_node(env)`` (the CLI passes the running
        local node's url, username, password and ca_certs), then localhost:9200.

        The local node's credentials and CA (``local start --secure``) are used only when its URL is.
        """
        env = os.environ if env is None else env
        url = url or env.get("OPENSEARCH_URL") or None
        local = None if url or local_node is None else local_node(env)
        if local:
            url = local["url"]
            username = username or env.get("OPENSEARCH_USERNAME") or local["username"]
            if username == local["username"]:
                password = password or env.get("OPENSEARCH_PASSWORD") or local["password"]
            ca_certs = ca_certs or env.get("OPENSEARCH_CA_CERTS") or local["ca_certs"]
        url = url or "http://localhost:9200"
        username = username or env.get("OPENSEARCH_USERNAME") or None
        password = password or env.get("OPENSEARCH_PASSWORD") or None
        ca_certs = ca_certs or env.get("OPENSEARCH_CA_CERTS") or None
        timeout = float(env.get("OPENSEARCH_LLM_TIMEOUT") or timeout)
        return cls(url=url.rstrip("/"), username=username, password=Secret(password) if password else None,
                   ca_certs=ca_certs, verify=not insecure, timeout=timeout)


_last_response = threading.local()


class HeaderKeepingConnection(Urllib3HttpConnection):
    """opensearch-py drops response headers when it raises; keep the last ones per thread (Retry-After).

    Request bodies reach opensearch-py's loggers masked: the revealed body (connector credentials)
    is sent, never logged, whatever the log level.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        urlopen = self.pool.urlopen

        def keeping(*a: Any, **kw: Any) -> Any:
            response = urlopen(*a, **kw)
            _last_response.headers = dict(response.headers)
            return response

        self.pool.urlopen = keeping  # type: ignore[method-assign]

    def log_request_success(self, method: str, full_url: str, path: str, body: Any, *args: Any) -> None:
        super().log_request_success(method, full_url, path, _masked_body(body), *args)

    def log_request_fail(self, method: str, full_url: str, path: str, body: Any, *args: Any,
                         **kwargs: Any) -> None:
        super().log_request_fail(method, full_url, path, _masked_body(body), *args, **kwargs)


def _masked_body(body: Any) -> Any:
    if isinstance(body, bytes):
        return mask_text(body.decode("utf-8", "replace"))
    return mask_text(body) if isinstance(body, str) else body


def retry_after_seconds() -> Optional[float]:
    """The Retry-After of the last response on this thread, in seconds (capped at 30)."""
    value = (getattr(_last_response, "headers", None) or {}).get("Retry-After")
    try:
        return min(float(value), 30.0) if value is not None else None
    except ValueError:
        return None


def _wait(policy: "RetryPolicy") -> Callable[[Any], float]:
    backoff = wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait) + wait_random(0, policy.initial_wait)

    def wait(state: Any) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, osx.TransportError) and exc.status_code == 429:
            hinted = retry_after_seconds()
            if hinted is not None:
                return hinted
        return backoff(state)
    return wait


def is_idempotent(method: str, path: str) -> bool:
    """True for requests that can be repeated without a second effect."""
    method = method.upper()
    if method in ("GET", "HEAD", "DELETE", "PUT"):
        return True
    return method == "POST" and path.split("?")[0].endswith(IDEMPOTENT_POST_SUFFIXES)


def _retryable(exc: BaseException) -> bool:
    if is_final(exc):  # an untrusted certificate stays untrusted: one attempt, one audit event
        return False
    if isinstance(exc, (osx.ConnectionError, osx.ConnectionTimeout)):
        return True
    return isinstance(exc, osx.TransportError) and exc.status_code in RETRY_STATUSES


class SeamTransport(Transport):
    """opensearch-py Transport with secret reveal, retries and error translation.

    The first request of a client goes alone: until it has an answer the others wait, and when the
    cluster refuses the credentials (401) they fail with the same error without being sent, so one
    command makes one failed login, not one per concurrent read.
    """

    retry_policy: RetryPolicy = RetryPolicy()
    cluster_url: str = ""
    username: Optional[str] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._first = threading.Lock()
        self._answered = False
        self._refused: Optional[AuthenticationError] = None

    def perform_request(self, method: str, url: str, params: Any = None, body: Any = None,
                        timeout: Any = None, ignore: Any = (), headers: Any = None) -> Any:
        if self._answered:
            return self._send(method, url, params, body, timeout, ignore, headers)
        with self._first:
            if self._refused is not None:
                raise self._refused
            try:
                result = self._send(method, url, params, body, timeout, ignore, headers)
            except AuthenticationError as exc:
                self._refused = exc
                raise
            except ClusterError as exc:
                self._answered = exc.status is not None
                raise
            self._answered = True
            return result

    def _send(self, method: str, url: str, params: Any, body: Any, timeout: Any, ignore: Any, headers: Any) -> Any:
        send = super().perform_request
        real_body = reveal(body) if body is not None else None

        def once() -> Any:
            return send(method, url, params=params, body=real_body, timeout=timeout,
                        ignore=ignore, headers=headers)

        policy = self.retry_policy
        try:
            if not is_idempotent(method, url):
                return once()
            retrying = Retrying(
                stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_delay),
                wait=_wait(policy),
                retry=retry_if_exception(_retryable), sleep=policy.sleep, reraise=True,
            )
            return retrying(once)
        except (osx.TransportError, osx.ImproperlyConfigured, osx.SerializationError) as exc:
            raise translate(exc, method, url, _seconds(params, timeout) or self.kwargs_timeout(),
                            url=self.cluster_url, username=self.username) from None

    def kwargs_timeout(self) -> Optional[float]:
        """The client-wide request timeout in seconds."""
        return getattr(self, "_timeout_seconds", None)


def _seconds(params: Any, timeout: Any) -> Optional[float]:
    value = timeout if timeout is not None else (params or {}).get("request_timeout")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def connect(settings: ConnectionSettings) -> OpenSearch:
    """An opensearch-py client whose every request goes through :class:`SeamTransport`."""
    transport_class = type("BoundSeamTransport", (SeamTransport,),
                           {"retry_policy": settings.retry, "_timeout_seconds": settings.timeout,
                            "cluster_url": settings.url, "username": settings.username})
    kwargs: dict[str, Any] = {
        "hosts": [settings.url], "transport_class": transport_class, "max_retries": 0,
        "connection_class": HeaderKeepingConnection, "pool_maxsize": 16,
        "timeout": settings.timeout, "verify_certs": settings.verify, "http_compress": False,
    }
    if settings.username:
        pw = settings.password.reveal() if settings.password else ""
        kwargs["http_auth"] = (settings.username, pw)
        register_secret(base64.b64encode(f"{settings.username}:{pw}".encode()).decode())  # the auth header
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if settings.url.startswith("https") and not settings.verify:
        warnings.warn("TLS verification is off (--insecure): use only against a cluster you trust",
                      stacklevel=2)
        kwargs["ssl_show_warn"] = False
        kwargs["ssl_assert_hostname"] = False
        # one warning above is enough: not one more per request from urllib3
        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return OpenSearch(**kwargs)
