"""``_predict`` on a remote model, with the upstream provider's failures told apart.

ML Commons answers an upstream non-2xx with the upstream's own status and the reason
``Error from remote service: <body>``, so a 401 here is the provider refusing the key, not
OpenSearch refusing us.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Optional

from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from opensearch_llm.errors import (
    ClusterError, UpstreamAuthError, UpstreamError, UpstreamRateLimitError, UpstreamUnreachableError,
)
from opensearch_llm.resources.common import about
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

REMOTE_ERROR = "Error from remote service:"
NETWORK_ERROR = "Error communicating with remote model"
CLUSTER_REFUSALS = (429, 503)  # answered by the cluster itself before any model call


@dataclass(frozen=True)
class Prediction:
    """A raw ``_predict`` response and how long it took."""

    response: dict
    seconds: float


def predict(client: OpenSearch, model_id: str, parameters: dict, timeout: Optional[float] = None,
            sleep: Callable[[float], None] = time.sleep) -> Prediction:
    """POST ``{"parameters": ...}`` to the model once; upstream failures raise :class:`UpstreamError` subclasses.

    A ``_predict`` may be billed by the provider as soon as the cluster has it, so it is resent only
    when the cluster certainly did not take it: the connection could not be opened, or the cluster
    itself refused it with 429/503 before calling the model.
    """
    started = time.perf_counter()
    params = {"request_timeout": timeout} if timeout else None

    def once() -> dict:
        with about("model", model_id):
            return client.plugins.ml.predict_model(model_id=model_id, body={"parameters": parameters},
                                                   params=params)

    retrying = Retrying(stop=stop_after_attempt(4), wait=wait_exponential(multiplier=0.2, max=2.0),
                        retry=retry_if_exception(_not_taken), sleep=sleep, reraise=True)
    try:
        response = retrying(once)
    except ClusterError as exc:
        raise classify(exc, timeout) from None
    return Prediction(response=response, seconds=time.perf_counter() - started)


def _not_taken(exc: BaseException) -> bool:
    """True when the cluster certainly did not forward the call to the provider."""
    if not isinstance(exc, ClusterError) or REMOTE_ERROR in exc.message or NETWORK_ERROR in exc.message:
        return False
    if exc.status is None:
        return not exc.reached
    return exc.status in CLUSTER_REFUSALS


def provider_message(remote_body: str) -> str:
    """The provider's own message from an upstream error body, readable whatever its shape: OpenAI's
    ``{"error": {"message"}}``, Ollama's and llama.cpp's ``{"error": "..."}``, FastAPI's ``{"detail": "..."}`` or
    ``{"detail": [{"loc", "msg"}]}`` (vLLM, llama-cpp-python), ``{"message": "..."}``; else the body as JSON."""
    try:
        data = json.loads(remote_body)
    except ValueError:
        return remote_body.strip()
    return error_text(data)


def error_text(data: object) -> str:
    """See :func:`provider_message`."""
    if not isinstance(data, dict):
        return json.dumps(data) if not isinstance(data, str) else data
    for key in ("error", "detail", "message"):
        value = data.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, dict) and (value.get("message") or value.get("msg")):
            return str(value.get("message") or value.get("msg"))
        if isinstance(value, list) and value:
            return "; ".join(_item(v) for v in value)
    return json.dumps(data, sort_keys=True)


def _item(value: object) -> str:
    if isinstance(value, dict):
        where = ".".join(str(p) for p in value.get("loc", []) if p != "body")
        return f"{where}: {value.get('msg')}" if where and value.get("msg") else str(value.get("msg") or value)
    return str(value)


def classify(exc: ClusterError, timeout: Optional[float] = None) -> Exception:
    """Turn a predict ClusterError into an UpstreamError when the provider is to blame."""
    reason = exc.message
    if exc.timed_out:
        waited = f" within {timeout:g} s" if timeout else ""
        return ClusterError(f"the cluster did not answer{waited}; the model call may still have run",
                            kind=exc.kind, resource_id=exc.resource_id, method=exc.method, path=exc.path,
                            hint="raise predict.timeout (--set predict.timeout=2m); it was not resent, "
                                 "so the provider was asked at most once")
    if exc.status is None and exc.reached and reason.startswith("cannot reach OpenSearch"):
        return ClusterError("the connection to the cluster broke before it answered; the model call may still "
                            "have run", kind=exc.kind, resource_id=exc.resource_id, method=exc.method,
                            path=exc.path, hint="it was not resent, so the provider was asked at most once")
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
        hint = ("the provider does not serve the connector's URL: check its base URL (an OpenAI-compatible server "
                "usually serves under /v1)") if status == 404 else None
        return UpstreamError(f"the LLM provider failed ({status}): {message}", status=status,
                             provider_message=message, hint=hint)
    if NETWORK_ERROR in reason:
        return UpstreamUnreachableError(f"OpenSearch could not reach the LLM provider: {mask_text(reason)}",
                                        status=exc.status, hint="check the endpoint URL and that the provider is up")
    return exc
