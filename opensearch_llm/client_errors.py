"""opensearch-py errors turned into ours, each naming its fix; every excerpt is masked.

A certificate the client does not trust, a refused password, TLS spoken to a plain-HTTP port (and
the reverse) are told apart here, so ``up`` against a secured cluster says what to pass instead of
"cannot reach OpenSearch".
"""

from __future__ import annotations

import json
from typing import Optional

import urllib3
from opensearchpy import exceptions as osx

from opensearch_llm.errors import AuthenticationError, ClusterError, NotFoundError, OpenSearchLLMError
from opensearch_llm.secrets import mask_text

NOT_TRUSTED = ("CERTIFICATE_VERIFY_FAILED", "certificate verify failed")
PLAIN_HTTP_PORT = ("WRONG_VERSION_NUMBER", "wrong version number", "record layer failure", "packet length too long")
PROVIDER_MARKERS = ("Error from remote service", "Error communicating with remote model")
UNANSWERED = ("RemoteDisconnected", "Connection aborted", "BadStatusLine", "without response")


def _reason(exc: osx.TransportError) -> str:
    info = exc.info
    if isinstance(info, dict):
        err = info.get("error")
        if isinstance(err, dict):
            return str(err.get("reason") or err.get("type") or err)
        if err:
            return str(err)
    return str(exc.error)


def _from_provider(exc: osx.TransportError) -> bool:
    # ML Commons answers a provider's 401 with the provider's status: that is the API key, not our login
    return any(marker in _reason(exc) for marker in PROVIDER_MARKERS)


def never_sent(exc: BaseException) -> bool:
    """True when a connection error happened before the request could reach the server."""
    info = getattr(exc, "info", None)
    return isinstance(exc, osx.ConnectionError) and not isinstance(exc, osx.ConnectionTimeout) and isinstance(
        info, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError))


def is_final(exc: BaseException) -> bool:
    """True for connection failures that no retry can cure (TLS trust or protocol mismatch)."""
    return isinstance(exc, osx.SSLError)


def _tls(exc: osx.SSLError, url: str, method: str, path: str) -> ClusterError:
    text = str(exc)
    if any(marker in text for marker in NOT_TRUSTED):
        return ClusterError(f"the certificate of {url} is not trusted", method=method, path=path, reached=False,
                            hint="pass --ca-certs FILE (or OPENSEARCH_CA_CERTS), or --insecure for a throwaway "
                                 "cluster")
    if any(marker in text for marker in PLAIN_HTTP_PORT):
        plain = "http://" + url.split("://", 1)[-1]
        return ClusterError(f"{url} does not speak TLS", method=method, path=path, reached=False,
                            hint=f"use {plain}")
    return ClusterError(mask_text(f"TLS with {url} failed: {exc}"), method=method, path=path, reached=False,
                        hint="check --ca-certs / OPENSEARCH_CA_CERTS and the URL's scheme")


def _unreachable(exc: Exception, url: str, method: str, path: str) -> ClusterError:
    hint = "check --url / OPENSEARCH_URL, or start a node: opensearch-llm local start"
    if url.startswith("http://") and any(marker in str(exc) for marker in UNANSWERED):
        secure = "https://" + url.split("://", 1)[-1]
        hint = f"the server closed the connection without an answer: if the cluster uses TLS, use {secure}"
    return ClusterError(mask_text(f"cannot reach OpenSearch at {url}: {exc}"), method=method, path=path,
                        reached=not never_sent(exc), hint=hint)


def translate(exc: Exception, method: str, path: str, timeout: Optional[float] = None, url: str = "",
              username: Optional[str] = None) -> OpenSearchLLMError:
    """Turn an opensearch-py error into ours.

    ``ClusterError.reached`` tells whether the request may have reached the cluster (False only
    when the connection could not be opened); ``timed_out`` that it was sent and never answered.
    """
    if isinstance(exc, osx.TransportError) and exc.status_code == 401 and not _from_provider(exc):
        who = f"user {username}" if username else "an anonymous request (no --username given)"
        return AuthenticationError(f"authentication failed for {who} at {url or 'the cluster'}", method=method,
                                   path=path, status=401,
                                   hint="check --username/--password (OPENSEARCH_USERNAME / OPENSEARCH_PASSWORD)")
    if isinstance(exc, osx.TransportError) and isinstance(exc.status_code, int):
        body = exc.info if isinstance(exc.info, str) else json.dumps(exc.info, default=str)
        cls = NotFoundError if exc.status_code == 404 else ClusterError
        return cls(mask_text(_reason(exc)), method=method, path=path, status=exc.status_code,
                   body_excerpt=mask_text(body))
    if isinstance(exc, osx.SerializationError):
        return ClusterError(mask_text(f"the cluster answered something that is not JSON: {exc}"), method=method,
                            path=path, hint="is --url an OpenSearch endpoint, and not a proxy or another service?")
    if isinstance(exc, osx.SSLError):
        return _tls(exc, url, method, path)
    if isinstance(exc, osx.ConnectionTimeout):
        waited = f" within {timeout:g} s" if timeout else ""
        return ClusterError(f"the cluster did not answer{waited}", method=method, path=path, timed_out=True,
                            hint="raise the timeout (OPENSEARCH_LLM_TIMEOUT) or check the cluster's load")
    return _unreachable(exc, url, method, path)
