"""Teardown in reverse order: memories, agent, pipelines and indices using the model → stop serving + undeploy →
delete model → connector → model group → restore settings.

404 and ``not_found`` count as done; a 409 right after a delete is retried briefly; a model that a
late deploy or a client's predict deployed again is undeployed again (see
:func:`opensearch_llm.resources.model.delete`); every step is attempted even when an earlier one
fails. Settings are restored only when every connector of the run is gone and no other run of
ours still needs the entries (see :mod:`opensearch_llm.lifecycle.restore`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Optional, Sequence, TypeVar, Union

from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential

from opensearch_llm.errors import ClusterError, OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.lifecycle.report import TeardownReport
from opensearch_llm.resources import (
    agent, connector, index, ingest_pipeline, memory, model, model_group, search_pipeline,
)

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

T = TypeVar("T")
TOKEN_MATCH = "models are still using this connector"
# what uses the model goes first; an index before the ingest pipeline it names as its default
ORDER = ("memory", "agent", "search_pipeline", "index", "ingest_pipeline", "model", "connector", "model_group")
MODULES: dict[str, Any] = {
    "memory": memory, "agent": agent, "search_pipeline": search_pipeline, "index": index,
    "ingest_pipeline": ingest_pipeline, "model": model, "connector": connector, "model_group": model_group,
}
GETTERS: dict[str, Callable[["OpenSearch", str], Optional[dict]]] = {k: m.get for k, m in MODULES.items()}


def _conflict(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.status == 409


def _transient(exc: BaseException) -> bool:
    # every teardown request is idempotent (undeploy, delete, update), so a server error or a lost
    # answer may be retried: a second delete of something gone answers not_found
    return isinstance(exc, ClusterError) and (exc.status is None or exc.status >= 500)


TRANSIENT_ATTEMPTS = 3


def retry_transient(options: RunOptions, call: Callable[..., T], *args: Any) -> T:
    """``call(*args)``, resent up to three times on a 5xx or a lost answer (idempotent calls only)."""
    retrying = Retrying(stop=stop_after_attempt(TRANSIENT_ATTEMPTS), sleep=options.sleep, reraise=True,
                        wait=wait_exponential(multiplier=0.2, max=2.0), retry=retry_if_exception(_transient))
    return retrying(call, *args)


def delete_one(client: "OpenSearch", kind: str, rid: str, options: RunOptions, settle_deploy: bool = True) -> bool:
    """Delete one resource; True if it existed.

    A 409 (refresh lag right after a delete, or a model whose removal is still settling) is retried
    for a few seconds; a 5xx or a lost answer up to three times.
    """
    if kind == "model":
        return retry_transient(options, model.delete, client, rid,
                               model.Removal(sleep=options.sleep, settle_deploy=settle_deploy))
    deleter = MODULES[kind].delete
    failures = {"transient": 0}

    def retry(exc: BaseException) -> bool:
        if _transient(exc):
            failures["transient"] += 1
            return failures["transient"] < TRANSIENT_ATTEMPTS
        return _conflict(exc)

    retrying = Retrying(stop=stop_after_delay(10) | stop_after_attempt(15), sleep=options.sleep, reraise=True,
                        wait=wait_exponential(multiplier=0.1, max=1.0), retry=retry_if_exception(retry))
    return retrying(deleter, client, rid)


def as_targets(ids: Mapping[str, Union[str, Sequence[str]]]) -> list[tuple[str, str]]:
    """(kind, id) pairs in deletion order from kind → id or kind → [ids]."""
    pairs = []
    for kind in ORDER:
        value = ids.get(kind) or []
        for rid in ([value] if isinstance(value, str) else value):
            if rid and (kind, rid) not in pairs:
                pairs.append((kind, rid))
    return pairs


def teardown(client: "OpenSearch", ids: Mapping[str, Union[str, Sequence[str]]], options: RunOptions = RunOptions(),
             journal: Optional[Journal] = None, still_needed: Iterable[str] = (),
             restore_settings: bool = True, deployed: Iterable[str] = ()) -> TeardownReport:
    """Remove ``ids`` (kind → id or ids) in dependency order, then restore ``journal``'s settings; never raises.

    ``deployed``: models a search showed DEPLOYED (no deploy of theirs can still be running, so the delete
    need not wait for one). ``still_needed`` are endpoint URLs of our connectors that stay (other runs): their trusted
    entries stay too. Settings are left (and the restore deferred to a later ``down``/``sweep``)
    when a connector of this run could not be deleted.
    """
    report = TeardownReport()
    targets = as_targets(ids)
    for kind, rid in targets:
        if kind == "model_group" and any(e.startswith("connector ") for e in report.errors):
            # the group's marker holds the settings record (lifecycle.ledger): it stays while its connector does
            report.errors.append(f"model_group {rid}: kept while a connector of the run is still there")
            continue
        _delete_step(client, kind, rid, options, journal, report, rid not in set(deployed))
    if restore_settings and journal is not None:
        from opensearch_llm.lifecycle.restore import restore_journaled

        connector_left = any(e.startswith("connector ") for e in report.errors)
        report.merge(restore_journaled(client, journal, options, still_needed, defer=connector_left))
    # a delete that answered is done (deletes refresh at once); only failed ones are checked again
    failed = [(k, r) for k, r in targets if any(e.startswith(f"{k} {r}:") for e in report.errors)]
    report.leftovers = _still_there(client, failed, report)
    return report


def _delete_step(client: "OpenSearch", kind: str, rid: str, options: RunOptions, journal: Optional[Journal],
                 report: TeardownReport, settle_deploy: bool = True) -> None:
    timer = StepTimer(options, f"delete {kind}")
    try:
        existed = delete_one(client, kind, rid, options, settle_deploy)
    except OpenSearchLLMError as exc:
        report.errors.append(f"{kind} {rid}: {exc}")
        timer.done(str(exc), status="failed")
        if kind == "connector" and TOKEN_MATCH in str(exc):
            report.notes.append(f"connector {rid}: ML Commons matches connector ids as text, so a model that shares "
                                "a part of its id (between '-') blocks it even when it uses another connector; it "
                                "can go once the models it names are gone: run this command again then, or "
                                "`opensearch-llm sweep --include-up --yes`")
        return
    (report.deleted if existed else report.missing).append({"kind": kind, "id": rid})
    if journal:
        journal.write("deleted", kind=kind, id=rid)
    timer.done(f"{rid}" if existed else f"{rid} (already gone)")


def _still_there(client: "OpenSearch", targets: list[tuple[str, str]], report: TeardownReport) -> list[dict]:
    left = []
    for kind, rid in targets:
        try:
            if GETTERS[kind](client, rid) is not None:
                left.append({"kind": kind, "id": rid})
        except OpenSearchLLMError as exc:
            report.errors.append(f"checking {kind} {rid}: {exc}")
            left.append({"kind": kind, "id": rid})
    return left
