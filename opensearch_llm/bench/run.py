"""Run the bench: the same bounded load through the cluster, then straight to the provider."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple

from opensearch_llm.bench.direct import DirectError, DirectSender, direct_request
from opensearch_llm.bench.report import CLUSTER, DIRECT, BenchReport
from opensearch_llm.bench.stats import Call, PathStats
from opensearch_llm.errors import InvalidInputError, excerpt
from opensearch_llm.lifecycle import conversation
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint

MAX_REQUESTS = 10_000
MAX_CONCURRENCY = 256
#: One call: returns how many refused attempts it retried before the answer; raises when there was no answer.
Send = Callable[[], int]


def check_load(concurrency: int, requests: int) -> None:
    """InvalidInputError (exit 2) naming the limit when the load is out of bounds."""
    if not 1 <= requests <= MAX_REQUESTS:
        raise InvalidInputError(f"requests must be between 1 and {MAX_REQUESTS} (the bench's limit), got {requests}")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise InvalidInputError(f"concurrency must be between 1 and {MAX_CONCURRENCY} (the bench's limit), "
                                f"got {concurrency}")


def error_kind(exc: BaseException) -> str:
    """The error's name in the mix: its class (a direct call's label), plus the HTTP status when it has one."""
    name = exc.label if isinstance(exc, DirectError) else type(exc).__name__
    status = getattr(exc, "status", None)
    return f"{name} {status}" if isinstance(status, int) else name


def timed(send: Send, clock: Callable[[], float] = time.perf_counter) -> Call:
    """One call of ``send``, timed; any exception becomes the call's outcome (masked)."""
    started = clock()
    try:
        retries = send()
    except Exception as exc:  # noqa: BLE001 - every outcome is a figure of the bench, the load goes on
        return Call(seconds=clock() - started, kind=error_kind(exc), retries=int(getattr(exc, "retries", 0) or 0),
                    message=excerpt(mask_text(str(exc)), 300))
    return Call(seconds=clock() - started, retries=retries)


def run_load(send: Send, *, requests: int, concurrency: int) -> Tuple[List[Call], float]:
    """``requests`` calls of ``send``, ``concurrency`` at a time; the calls in order and the wall time."""
    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, requests)), thread_name_prefix="bench")
    started = time.perf_counter()
    try:
        calls = list(pool.map(lambda _i: timed(send), range(requests)))
    except BaseException:
        # Ctrl-C: drop the calls not started yet; the ones in flight end within their own timeout
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    wall = time.perf_counter() - started
    pool.shutdown()
    return calls, wall


def run_bench(client: "OpenSearch", blueprint: "Blueprint", *, concurrency: int, requests: int,
              message: str = "ping", direct: bool = True, predict: Optional[Callable[..., Any]] = None,
              model_id: Optional[str] = None, direct_send: Optional[Send] = None,
              on_progress: Callable[[str], None] = lambda _text: None) -> BenchReport:
    """Send ``requests`` predicts of ``message`` through the blueprint's provisioned model, ``concurrency`` at a
    time, then (``direct``) the same load straight to the provider; every call's latency and outcome recorded.

    :param predict: one prediction, called as ``predict(client, blueprint, message, model_id=...)`` (default
        :func:`opensearch_llm.lifecycle.conversation.predict`); its result's ``retries`` are counted
    :param model_id: skips the lookup of the provisioned model
    :param direct_send: replaces the real direct call (a :data:`Send`)
    :param on_progress: told when each path starts
    """
    check_load(concurrency, requests)
    model_id = model_id or conversation.provisioned_model_id(client, blueprint)
    ask = predict or conversation.predict

    def through_cluster() -> int:
        return int(getattr(ask(client, blueprint, message, model_id=model_id), "retries", 0) or 0)

    report = BenchReport(blueprint=blueprint.name, model_id=model_id, requests=requests, concurrency=concurrency)
    on_progress(f"{CLUSTER}: {requests} calls through model {model_id}, {concurrency} at a time")
    report.paths[CLUSTER] = _measure(CLUSTER, through_cluster, requests, concurrency)
    if direct:
        _bench_direct(report, blueprint, message, direct_send, on_progress)
    return report


def _measure(path: str, send: Send, requests: int, concurrency: int) -> PathStats:
    calls, wall = run_load(send, requests=requests, concurrency=concurrency)
    return PathStats.from_calls(path, calls, wall)


def _bench_direct(report: BenchReport, blueprint: "Blueprint", message: str, send: Optional[Send],
                  on_progress: Callable[[str], None]) -> None:
    """The direct path into ``report``: measured, or the reason it could not run in ``direct_note``."""
    sender: Optional[DirectSender] = None
    if send is None:
        request, why = direct_request(blueprint, message)
        if request is None:
            report.direct_note = why
            on_progress(f"{DIRECT}: not run: {why}")
            return
        report.direct_url = request.shown_url
        send = sender = DirectSender(request, blueprint.predict.timeout)
    on_progress(f"{DIRECT}: {report.requests} calls to {report.direct_url or 'the provider'}, "
                f"{report.concurrency} at a time")
    try:
        report.paths[DIRECT] = _measure(DIRECT, send, report.requests, report.concurrency)
    finally:
        if sender is not None:
            sender.close()
