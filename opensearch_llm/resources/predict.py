"""``_predict`` on a remote model, with the upstream provider's failures told apart.

ML Commons answers an upstream non-2xx with the upstream's own status and the reason
``Error from remote service: <body>``, so a 401 here is the provider refusing the key, not
OpenSearch refusing us.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from opensearch_llm.errors import (
    ClusterError, UpstreamAuthError, UpstreamError, UpstreamRateLimitError, UpstreamUnreachableError,
)
from opensearch_llm.resources.common import about
from opensearch_llm.secrets import mask_text

REMOTE_ERROR = "Error from remote service:"
NETWORK_ERROR = "Error communicating with remote model"


@dataclass(frozen=True)
class Prediction:
    """A raw ``_predict`` response and how long it took."""

    response: dict
    seconds: float


def predict(client: Any, model_id: str, parameters: dict, timeout: Optional[float] = None,
            sleep: Callable[[float], None] = time.sleep) -> Prediction:
    """POST ``{"parameters": ...}`` to the model; upstream failures raise :class:`UpstreamError` subclasses."""
    started = time.perf_counter()
    params = {"request_timeout": timeout} if timeout else None

    def once() -> dict:
        with about("model", model_id):
            return client.plugins.ml.predict_model(model_id=model_id, body={"parameters": parameters},
                                                   params=params)

    retrying = Retrying(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.2, max=2.0),
                        retry=retry_if_exception(_cluster_side_transient), sleep=sleep, reraise=True)
    try:
        response = retrying(once)
    except ClusterError as exc:
        raise classify(exc) from None
    return Prediction(response=response, seconds=time.perf_counter() - started)


def _cluster_side_transient(exc: BaseException) -> bool:
    # the cluster (not the provider) was busy or unreachable: the request never reached the LLM
    if not isinstance(exc, ClusterError) or REMOTE_ERROR in exc.message or NETWORK_ERROR in exc.message:
        return False
    return exc.status in (None, 429, 502, 503, 504)


def provider_message(remote_body: str) -> str:
    """The provider's own message from an upstream error body (OpenAI or Ollama shape)."""
    try:
        data = json.loads(remote_body)
    except ValueError:
        return remote_body.strip()
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err)
    return str(err or data)


def classify(exc: ClusterError) -> Exception:
    """Turn a predict ClusterError into an UpstreamError when the provider is to blame."""
    reason = exc.message
    if REMOTE_ERROR in reason:
        message = mask_text(provider_message(reason.split(REMOTE_ERROR, 1)[1]))
        status = exc.status
        if status in (401, 403):
            return UpstreamAuthError(f"authentication failed at the LLM provider ({status}): {message}",
                                     status=status, provider_message=message,
                                     hint="check the API key the blueprint's credential reads")
        if status == 429:
            return UpstreamRateLimitError(f"rate limited by the LLM provider (429): {message}", status=status,
                                          provider_message=message, hint="retry later or lower the request rate")
        return UpstreamError(f"the LLM provider failed ({status}): {message}", status=status,
                             provider_message=message)
    if NETWORK_ERROR in reason:
        return UpstreamUnreachableError(f"OpenSearch could not reach the LLM provider: {mask_text(reason)}",
                                        status=exc.status, hint="check the endpoint URL and that the provider is up")
    return exc
