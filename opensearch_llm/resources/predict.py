"""``_predict`` on a remote model, with the upstream provider's failures told apart.

ML Commons answers an upstream non-2xx with the upstream's own status and the reason
``Error from remote service: <body>``, so a 401 here is the provider refusing the key, not
OpenSearch refusing us.
"""

from __future__ import annotations

import json
import random
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Optional

from tenacity import Retrying, retry_if_exception

from opensearch_llm.client import retry_after_seconds
from opensearch_llm.errors import (
    ClusterError, UpstreamAuthError, UpstreamError, UpstreamRateLimitError, UpstreamTimeoutError,
    UpstreamUnreachableError,
)
from opensearch_llm.resources.common import about
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

REMOTE_ERROR = "Error from remote service:"
NETWORK_ERROR = "Error communicating with remote model"
CLUSTER_REFUSALS = (429, 503)  # answered by the cluster itself before any model call


DEFAULT_DEADLINE = 60.0  # seconds a predict without a timeout may spend on refusals
THROTTLED = "is throttled at"  # ML Commons' own rate_limiter, before any call to the provider
TIMED_OUT = re.compile(r"timed out|timeout", re.IGNORECASE)  # "Read timed out" (2.19.6, 3.6.0)


@dataclass(frozen=True)
class Prediction:
    """A raw ``_predict`` response, how long it took, and how many refused attempts came before it."""

    response: dict
    seconds: float
    retries: int = 0


def predict(client: OpenSearch, model_id: str, parameters: dict, timeout: Optional[float] = None,
            sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> Prediction:
    """POST ``{"parameters": ...}`` to the model; upstream failures raise :class:`UpstreamError` subclasses.

    A ``_predict`` may be billed by the provider as soon as the cluster has it, so it is resent only when no
    answer can have been produced: the connection to the cluster could not be opened, the cluster refused it
    (429/503, ML Commons' ``rate_limiter`` "throttled"), or the provider refused it with 429 (DeepSeek's
    concurrency cap). Those are retried with exponential backoff and jitter (a ``Retry-After`` the cluster
    sends is honoured) until ``timeout`` (default 60 s) is spent; a timeout is never retried.
    """
    started = clock()
    deadline = started + (timeout or DEFAULT_DEADLINE)
    attempts = {"n": 0}

    def once() -> dict:
        attempts["n"] += 1
        left = max(deadline - clock(), 1.0)
        with about("model", model_id):
            return client.plugins.ml.predict_model(model_id=model_id, body={"parameters": parameters},
                                                   params={"request_timeout": left})

    schedule = _Schedule(deadline, clock)
    retrying = Retrying(stop=schedule.stop, wait=schedule.pause,
                        retry=retry_if_exception(refused_unanswered), sleep=sleep, reraise=True)
    try:
        response = retrying(once)
    except ClusterError as exc:
        raise classify(exc, timeout, attempts["n"] - 1) from None
    return Prediction(response=response, seconds=clock() - started, retries=attempts["n"] - 1)


class _Schedule:
    """When to try again: full jitter over an exponential ceiling (0.25 s doubling to 8 s), or the cluster's
    ``Retry-After``; never past the deadline. tenacity asks ``stop`` and then ``wait`` for the same attempt: both
    see one drawn wait."""

    def __init__(self, deadline: float, clock: Callable[[], float]) -> None:
        self.deadline, self.clock = deadline, clock
        self.drawn: dict[int, float] = {}

    def pause(self, state: Any) -> float:
        if state.attempt_number not in self.drawn:
            exc = state.outcome.exception() if state.outcome else None
            hinted = retry_after_seconds() if isinstance(exc, ClusterError) and exc.status in (429, 503) else None
            ceiling = min(0.25 * 2 ** (state.attempt_number - 1), 8.0)
            self.drawn[state.attempt_number] = hinted if hinted is not None else random.uniform(ceiling / 2, ceiling)
        return self.drawn[state.attempt_number]

    def stop(self, state: Any) -> bool:
        return state.attempt_number >= MAX_ATTEMPTS or self.clock() + self.pause(state) >= self.deadline


MAX_ATTEMPTS = 50


def refused_unanswered(exc: BaseException) -> bool:
    """True when the call certainly produced no answer and no bill: the cluster did not forward it, ML Commons'
    rate limiter throttled it, or the provider answered 429."""
    if not isinstance(exc, ClusterError):
        return False
    if REMOTE_ERROR in exc.message:
        return exc.status == 429
    if NETWORK_ERROR in exc.message:
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


def classify(exc: ClusterError, timeout: Optional[float] = None, retries: int = 0) -> Exception:
    """Turn a predict ClusterError into an UpstreamError when the provider is to blame; ``retries`` refused
    attempts came before it."""
    reason = exc.message
    tried = f" (refused {retries + 1} times; retried with backoff until the predict timeout)" if retries else ""
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
            return UpstreamRateLimitError(f"rate limited by the LLM provider (429): {message}{tried}", status=status,
                                          provider_message=message,
                                          hint="lower the concurrency, or raise predict.timeout to wait longer")
        hint = ("the provider does not serve the connector's URL: check its base URL (an OpenAI-compatible server "
                "usually serves under /v1)") if status == 404 else None
        return UpstreamError(f"the LLM provider failed ({status}): {message}", status=status,
                             provider_message=message, hint=hint)
    if exc.status == 429 and THROTTLED in reason:
        exc.message = f"{reason}{tried}"
        exc.hint = ("ML Commons' rate_limiter of this model refused it: raise model.rate_limiter.limit, or send "
                    "fewer requests")
        return exc
    if NETWORK_ERROR in reason and TIMED_OUT.search(reason):
        return UpstreamTimeoutError(f"the LLM provider did not answer within the connector's read_timeout: "
                                    f"{mask_text(reason)}; the call may have run (and been billed)",
                                    status=exc.status, hint="raise connector.client_config.read_timeout; it was not "
                                                            "resent, so the provider was asked at most once")
    if NETWORK_ERROR in reason:
        return UpstreamUnreachableError(f"OpenSearch could not reach the LLM provider: {mask_text(reason)}",
                                        status=exc.status, hint="check the endpoint URL and that the provider is up")
    return exc
