"""Teardown in reverse order: undeploy → delete model → connector → model group → restore settings.

404 and ``not_found`` count as done; a 409 right after a delete is retried briefly; every step
is attempted even when an earlier one fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from opensearch_llm.errors import ClusterError, OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.resources import connector, model, model_group, settings

ORDER = ("model", "connector", "model_group")
DELETERS: dict[str, Callable[[Any, str], bool]] = {
    "model": model.delete, "connector": connector.delete, "model_group": model_group.delete,
}
GETTERS: dict[str, Callable[[Any, str], Optional[dict]]] = {
    "model": model.get, "connector": connector.get, "model_group": model_group.get,
}


@dataclass
class TeardownReport:
    """What teardown removed, what was already gone, and what is left."""

    deleted: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leftovers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """True when nothing is left and no step failed."""
        return not self.errors and not self.leftovers

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"deleted": self.deleted, "missing": self.missing, "errors": self.errors,
                "leftovers": self.leftovers, "notes": self.notes, "clean": self.clean}


def _conflict(exc: BaseException) -> bool:
    return isinstance(exc, ClusterError) and exc.status == 409


def delete_with_retry(client: Any, kind: str, rid: str, options: RunOptions) -> bool:
    """Delete one resource; retry 409s (index refresh lag right after a delete) for a few seconds."""
    retrying = Retrying(stop=stop_after_delay(10), wait=wait_exponential(multiplier=0.1, max=1.0),
                        retry=retry_if_exception(_conflict), sleep=options.sleep, reraise=True)
    return retrying(DELETERS[kind], client, rid)


def as_targets(ids: Mapping[str, Union[str, Sequence[str]]]) -> list[tuple[str, str]]:
    """(kind, id) pairs in deletion order from kind → id or kind → [ids]."""
    pairs = []
    for kind in ORDER:
        value = ids.get(kind) or []
        for rid in ([value] if isinstance(value, str) else value):
            if rid and (kind, rid) not in pairs:
                pairs.append((kind, rid))
    return pairs


def teardown(client: Any, ids: Mapping[str, Union[str, Sequence[str]]], options: RunOptions = RunOptions(),
             journal: Optional[Journal] = None, change: Optional[settings.SettingsChange] = None,
             still_needed: Iterable[str] = ()) -> TeardownReport:
    """Remove ``ids`` (kind → id or ids) in dependency order, then restore settings; never raises for one step."""
    report = TeardownReport()
    targets = as_targets(ids)
    for kind, rid in targets:
        timer = StepTimer(options, f"delete {kind}")
        try:
            existed = delete_with_retry(client, kind, rid, options)
        except OpenSearchLLMError as exc:
            report.errors.append(f"{kind} {rid}: {exc}")
            timer.done(str(exc), status="failed")
            continue
        (report.deleted if existed else report.missing).append({"kind": kind, "id": rid})
        if journal:
            journal.write("deleted", kind=kind, id=rid)
        timer.done(f"{rid}" if existed else f"{rid} (already gone)")
    if change is not None and change.changes:
        timer = StepTimer(options, "restore settings")
        try:
            outcome = settings.restore(client, change, still_needed)
            report.notes.extend(outcome.notes)
            if journal:
                journal.write("settings_restored" if outcome.complete else "settings_deferred")
            timer.done("; ".join(outcome.notes) or "restored")
        except OpenSearchLLMError as exc:
            report.errors.append(f"settings: {exc}")
            timer.done(str(exc), status="failed")
    # a delete that answered is done (deletes refresh at once); only failed ones are checked again
    failed = [(k, r) for k, r in targets if any(e.startswith(f"{k} {r}:") for e in report.errors)]
    report.leftovers = _still_there(client, failed, report)
    return report


def _still_there(client: Any, targets: list[tuple[str, str]], report: TeardownReport) -> list[dict]:
    left = []
    for kind, rid in targets:
        try:
            if GETTERS[kind](client, rid) is not None:
                left.append({"kind": kind, "id": rid})
        except OpenSearchLLMError as exc:
            report.errors.append(f"checking {kind} {rid}: {exc}")
            left.append({"kind": kind, "id": rid})
    return left
