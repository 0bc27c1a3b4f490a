"""Connection settings and the one transport seam over opensearch-py.

Every request of the toolkit goes through :class:`SeamTransport`: it reveals
:class:`~opensearch_llm.secrets.Secret` values only while serialising the body, retries
idempotent requests with tenacity, and turns opensearch-py errors into
:class:`~opensearch_llm.errors.ClusterError` with method, path, status and a masked excerpt.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

import threading

from opensearchpy import OpenSearch, Transport, Urllib3HttpConnection
from opensearchpy import exceptions as osx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential, wait_random

from opensearch_llm.errors import ClusterError, NotFoundError, OpenSearchLLMError
from opensearch_llm.secrets import Secret, mask_text, reveal

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
    password: Optional[Secret] = None
    ca_certs: Optional[str] = None
    verify: bool = True
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def resolve(cls, url: Optional[str] = None, username: Optional[str] = None,
                password: Optional[str] = None, ca_certs: Optional[str] = None,
                insecure: bool = False, env: Optional[Mapping[str, str]] = None,
                timeout: float = 30.0) -> "ConnectionSettings":
        """Options first, then ``OPENSEARCH_*`` variables, then the running local node, then localhost:9200."""
        env = os.environ if env is None else env
        url = url or env.get("OPENSEARCH_URL") or _local_node_url(env) or "http://localhost:9200"
        username = username or env.get("OPENSEARCH_USERNAME") or None
        password = password or env.get("OPENSEARCH_PASSWORD") or None
        ca_certs = ca_certs or env.get("OPENSEARCH_CA_CERTS") or None
        timeout = float(env.get("OPENSEARCH_LLM_TIMEOUT") or timeout)
        return cls(url=url.rstrip("/"), username=username, password=Secret(password) if password else None,
                   ca_certs=ca_certs, verify=not insecure, timeout=timeout)


def _local_node_url(env: Mapping[str, str]) -> Optional[str]:
    from opensearch_llm.local.node import read_state
    from opensearch_llm.local.process import pid_alive

    info = read_state("default", env)
    return info.url if info and pid_alive(info.pid) else None


_last_response = threading.local()


class HeaderKeepingConnection(Urllib3HttpConnection):
    """opensearch-py drops response headers when it raises; keep the last ones per thread (Retry-After)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        urlopen = self.pool.urlopen

        def keeping(*a: Any, **kw: Any) -> Any:
            response = urlopen(*a, **kw)
            _last_response.headers = dict(response.headers)
            return response

        self.pool.urlopen = keeping  # type: ignore[method-assign]


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
    if isinstance(exc, (osx.ConnectionError, osx.ConnectionTimeout)):
        return True
    return isinstance(exc, osx.TransportError) and exc.status_code in RETRY_STATUSES


def _reason(exc: osx.TransportError) -> str:
    info = exc.info
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type") or err)
        if err:
            return str(err)
    return str(exc.error)


def translate(exc: Exception, method: str, path: str) -> OpenSearchLLMError:
    """Turn an opensearch-py error into ours; the excerpt is masked."""
    if isinstance(exc, osx.TransportError) and isinstance(exc.status_code, int):
        body = exc.info if isinstance(exc.info, str) else json.dumps(exc.info, default=str)
        cls = NotFoundError if exc.status_code == 404 else ClusterError
        return cls(mask_text(_reason(exc)), method=method, path=path, status=exc.status_code,
                   body_excerpt=mask_text(body))
    return ClusterError(mask_text(f"cannot reach OpenSearch: {exc}"), method=method, path=path,
                        hint="check --url / OPENSEARCH_URL, or start a node: opensearch-llm local start")


class SeamTransport(Transport):
    """opensearch-py Transport with secret reveal, retries and error translation."""

    retry_policy: RetryPolicy = RetryPolicy()

    def perform_request(self, method: str, url: str, params: Any = None, body: Any = None,
                        timeout: Any = None, ignore: Any = (), headers: Any = None) -> Any:
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
        except (osx.TransportError, osx.ImproperlyConfigured) as exc:
            raise translate(exc, method, url) from None


def connect(settings: ConnectionSettings) -> OpenSearch:
    """An opensearch-py client whose every request goes through :class:`SeamTransport`."""
    transport_class = type("BoundSeamTransport", (SeamTransport,), {"retry_policy": settings.retry})
    kwargs: dict[str, Any] = {
        "hosts": [settings.url], "transport_class": transport_class, "max_retries": 0,
        "connection_class": HeaderKeepingConnection, "pool_maxsize": 16,
        "timeout": settings.timeout, "verify_certs": settings.verify, "http_compress": False,
    }
    if settings.username:
        pw = settings.password.reveal() if settings.password else ""
        kwargs["http_auth"] = (settings.username, pw)
    if settings.ca_certs:
        kwargs["ca_certs"] = settings.ca_certs
    if settings.url.startswith("https") and not settings.verify:
        warnings.warn("TLS verification is off (--insecure): use only against a cluster you trust",
                      stacklevel=2)
        kwargs["ssl_show_warn"] = False
        kwargs["ssl_assert_hostname"] = False
    return OpenSearch(**kwargs)
