"""Fallback: when a model fails in a way that proves it produced no answer, the next blueprint's model is asked.

A blueprint names its fallbacks (``fallback: [other-blueprint, ...]``), each provisioned by its own ``up``.
The next one is asked only when the failure shows that the provider produced nothing and billed nothing:
the provider could not be reached (connection refused, DNS, TLS), it answered 5xx or 429 (after the retries
of :func:`opensearch_llm.resources.predict.predict`), ML Commons' rate limiter throttled the call, or the
model is not provisioned. After a timeout, or a broken connection to the cluster, the call may have run and
been billed: no other model is asked (the one-call rule), and the error says so. A streamed answer that has
started is never continued elsewhere.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Optional, Sequence

from opensearch_llm.errors import (
    ClusterError, NotProvisionedError, OpenSearchLLMError, UpstreamAuthError, UpstreamError,
    UpstreamRateLimitError, UpstreamTimeoutError, UpstreamUnreachableError,
)
from opensearch_llm.lifecycle.consumer_smoke import ConsumerCheck
from opensearch_llm.lifecycle.conversation import PredictResult, predict, provisioned_model
from opensearch_llm.lifecycle.events import RunOptions, add_note
from opensearch_llm.lifecycle.facts import fresh
from opensearch_llm.lifecycle.smoke import SmokeRun, run_probe
from opensearch_llm.resources.predict import THROTTLED
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint

def unanswered(exc: BaseException) -> Optional[str]:
    """Why ``exc`` proves that no answer was produced (so the next model may be asked), or None."""
    if isinstance(exc, NotProvisionedError):
        return "not provisioned"
    if isinstance(exc, UpstreamRateLimitError):
        return "rate limited by the provider (429)"
    if isinstance(exc, UpstreamTimeoutError):
        return None  # the connector's read_timeout: the request went out, an answer may have been billed
    if isinstance(exc, UpstreamUnreachableError):
        return "the provider could not be reached"
    if isinstance(exc, UpstreamAuthError):
        return None  # the key is wrong: a configuration error to fix, not an outage to route around
    if isinstance(exc, UpstreamError) and exc.status is not None and exc.status >= 500:
        return f"the provider failed ({exc.status}) without an answer"
    if isinstance(exc, ClusterError) and exc.status == 429 and THROTTLED in exc.message:
        return "throttled by ML Commons' rate limiter"
    return None


def predict_with_fallback(client: "OpenSearch", blueprint: "Blueprint", fallbacks: Sequence["Blueprint"],
                          message: str, on_fallback: Callable[[dict], None] = lambda _attempt: None,
                          **kwargs: Any) -> PredictResult:
    """Ask ``blueprint``'s model, then each of ``fallbacks`` in turn while the failure proves no answer; the
    result says which blueprint answered and why the earlier ones did not (``attempts``).

    ``kwargs`` are those of :func:`opensearch_llm.lifecycle.conversation.predict` (``model_id`` applies to the
    first blueprint only). The last failure is raised with every earlier one in its notes.
    """
    attempts: list[dict] = []
    chain = [blueprint, *fallbacks]
    for index, current in enumerate(chain):
        started = _Started(kwargs.get("on_chunk"))
        mine = {**kwargs, "on_chunk": started} if kwargs.get("stream") else dict(kwargs)
        if index:
            mine.pop("model_id", None)
        try:
            result = predict(client, current, message, **mine)
        except OpenSearchLLMError as exc:
            reason = None if started.any else unanswered(exc)
            last = index == len(chain) - 1
            if reason is None or last:
                _note_attempts(exc, attempts, reason, current.name, last)
                raise
            attempt = {"blueprint": current.name, "reason": reason, "error": mask_text(exc.message)}
            attempts.append(attempt)
            on_fallback({**attempt, "next": chain[index + 1].name})
            continue
        result.attempts = attempts
        return result
    raise AssertionError("unreachable: the chain is never empty")


class _Started:
    """Passes streamed chunks on and remembers whether any arrived."""

    def __init__(self, downstream: Optional[Callable[[str], None]]) -> None:
        self.downstream, self.any = downstream, False

    def __call__(self, text: str) -> None:
        self.any = True
        if self.downstream:
            self.downstream(text)


def _note_attempts(exc: OpenSearchLLMError, attempts: list, reason: Optional[str], name: str, last: bool) -> None:
    for attempt in attempts:
        add_note(exc, f"{attempt['blueprint']} did not answer ({attempt['reason']}): {attempt['error']}")
    if reason is None and not last:
        add_note(exc, f"{name} may have produced an answer (a timeout or a broken connection) or needs a fix, so "
                      "no fallback was asked")
    elif attempts and last:
        add_note(exc, "every fallback failed")


def probe_fallbacks(client: "OpenSearch", fallbacks: Sequence["Blueprint"], options: RunOptions) -> list:
    """The smoke probe of each fallback's provisioned model: one :class:`ConsumerCheck` (a JUnit case) each,
    failed when the fallback is not provisioned or does not answer as its blueprint expects."""
    checks = []
    for fallback in fallbacks:
        started = time.perf_counter()
        name = f"fallback {fallback.name}"
        try:
            found = fresh(client, provisioned_model(client, fallback))
            if found is None:
                raise NotProvisionedError(f"{fallback.name} is not provisioned in this cluster",
                                          hint=f"run: opensearch-llm up {fallback.source}")
            probed = run_probe(client, fallback, found.id, options)
            checks.append(ConsumerCheck(name, True, probed.seconds, probed.answer))
        except OpenSearchLLMError as exc:
            checks.append(ConsumerCheck(name, False, time.perf_counter() - started,
                                        failures=[mask_text(str(exc))]))
    return checks


def probe_fallbacks_of(client: "OpenSearch", blueprint: "Blueprint", options: RunOptions, run: SmokeRun) -> None:
    """Add a check per fallback of ``blueprint`` to its smoke ``run``; a failed one fails the run, naming it."""
    from opensearch_llm.blueprint import load_fallbacks

    checks = probe_fallbacks(client, load_fallbacks(blueprint), options)
    run.checks = [*run.checks, *checks]
    failed = [c for c in checks if not c.ok]
    if failed:
        run.ok = False
        run.error = "; ".join(f"{c.name} failed: {'; '.join(c.failures)}" for c in failed)
