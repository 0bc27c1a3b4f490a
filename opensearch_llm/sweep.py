"""Find leftovers by ownership marker and delete them in dependency order, with bounded concurrency.

Only resources whose description carries our exact marker are ever touched. Settings a swept
run changed are restored from its journal when the journal is at hand.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from opensearch_llm.errors import InvalidInputError, OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Owned, all_owned
from opensearch_llm.lifecycle.journal import Journal, journal_dir
from opensearch_llm.lifecycle.teardown import delete_with_retry, teardown
from opensearch_llm.resources import model

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_age(text: str) -> timedelta:
    """``90s``, ``30m``, ``2h`` or ``7d`` as a timedelta; InvalidInputError otherwise."""
    m = _AGE.match(text.strip())
    if not m:
        raise InvalidInputError(f"bad age {text!r}", hint="use e.g. 30m, 2h, 7d")
    return timedelta(**{_UNIT[m[2]]: int(m[1])})


@dataclass(frozen=True)
class Filters:
    """Which leftovers to select; all given filters must hold."""

    older_than: Optional[timedelta] = None
    run: Optional[str] = None
    blueprint: Optional[str] = None

    def match(self, res: Owned, now: datetime) -> bool:
        """True when ``res`` passes every filter."""
        if self.run and res.marker.run != self.run:
            return False
        if self.blueprint and res.marker.blueprint != self.blueprint:
            return False
        return not self.older_than or now - res.marker.created_at() >= self.older_than


@dataclass
class SweepReport:
    """What sweep found, deleted, and could not delete."""

    found: list[dict] = field(default_factory=list)
    deleted: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    leftovers: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"found": self.found, "deleted": self.deleted, "errors": self.errors,
                "leftovers": self.leftovers, "notes": self.notes}


def _row(res: Owned) -> dict:
    return {"kind": res.kind, "id": res.id, "name": res.name, "run": res.marker.run,
            "blueprint": res.marker.blueprint, "created": res.marker.created}


def find(client: Any, filters: Filters = Filters(), now: Optional[datetime] = None) -> list[Owned]:
    """Our resources that pass ``filters``, in deletion order (models, connectors, model groups)."""
    now = now or datetime.now(timezone.utc)
    return [r for r in all_owned(client) if filters.match(r, now)]


class _Pipeline:
    """Delete models first, each model group as soon as its models are gone, connectors after all models.

    ML Commons serialises deletes per system index (each forces a refresh), so the kinds proceed
    in parallel instead of one after the other. Connectors wait for every model: ML Commons finds
    "models still using this connector" with a match query on the text-mapped ``connector_id``,
    so any model whose id shares a token with it (say both end in ``-L``) blocks the delete (409).
    """

    def __init__(self, client: Any, options: RunOptions, workers: int, report: SweepReport) -> None:
        self.client, self.options, self.report = client, options, report
        self.pool = ThreadPoolExecutor(max_workers=max(1, workers))
        self.lock = threading.Lock()
        self.waiting: dict[tuple[str, str], int] = {}
        self.parked: dict[tuple[str, str], Owned] = {}
        self.dependents: dict[str, list[tuple[str, str]]] = {}
        self.pending = 0
        self.done = threading.Event()

    def run(self, selected: list[Owned]) -> None:
        models = [r for r in selected if r.kind == "model"]
        for res in selected:
            if res.kind == "model":
                continue
            field = "model_group_id"
            users = [m.id for m in models if res.kind == "connector" or m.doc.get(field) == res.id]
            self.waiting[(res.kind, res.id)] = len(users)
            self.parked[(res.kind, res.id)] = res
            for m in users:
                self.dependents.setdefault(m, []).append((res.kind, res.id))
        if models:
            try:  # one request instead of one undeploy per model
                model.undeploy_many(self.client, [m.id for m in models])
            except OpenSearchLLMError as exc:
                self.report.notes.append(f"bulk undeploy failed ({exc}); models are undeployed one by one")
        ready = models + [r for key, r in self.parked.items() if self.waiting[key] == 0]
        if not ready:
            return
        self.pending = len(selected)
        for res in ready:
            self.pool.submit(self._delete, res)
        self.done.wait()
        self.pool.shutdown()

    def _delete(self, res: Owned) -> None:
        try:
            if res.kind == "model":
                model.delete_undeployed(self.client, res.id)
            else:
                delete_with_retry(self.client, res.kind, res.id, self.options)
            self.report.deleted.append(_row(res))
        except OpenSearchLLMError as exc:
            self.report.errors.append(f"{res.kind} {res.id}: {exc}")
        with self.lock:
            released = []
            for key in self.dependents.get(res.id, []) if res.kind == "model" else []:
                self.waiting[key] -= 1
                if self.waiting[key] == 0:
                    released.append(self.parked[key])
            self.pending -= 1
            finished = self.pending == 0
        for nxt in released:
            self.pool.submit(self._delete, nxt)
        if finished:
            self.done.set()


def sweep(client: Any, filters: Filters = Filters(), *, delete: bool = False, concurrency: int = 4,
          options: RunOptions = RunOptions()) -> SweepReport:
    """List leftovers; with ``delete`` remove them kind by kind and restore journaled settings."""
    selected = find(client, filters)
    report = SweepReport(found=[_row(r) for r in selected])
    if not delete:
        return report
    _Pipeline(client, options, concurrency, report).run(selected)
    _restore_settings({r.marker.run for r in selected}, client, options, report)
    try:  # one listing per kind (deletes refresh at once), not one GET per resource
        still = {(r.kind, r.id) for r in all_owned(client)}
    except OpenSearchLLMError as exc:
        report.errors.append(f"checking what is left: {exc}")
        still = {(r.kind, r.id) for r in selected}
    report.leftovers = [_row(r) for r in selected if (r.kind, r.id) in still]
    return report


def _restore_settings(runs: set, client: Any, options: RunOptions, report: SweepReport) -> None:
    from opensearch_llm.lifecycle.removal import pending_settings, retry_deferred, urls_still_needed
    from opensearch_llm.lifecycle.teardown import TeardownReport

    directory: Path = journal_dir(override=options.journal_dir)
    needed = urls_still_needed(client, ())
    for run in sorted(runs, reverse=True):
        journal = Journal.open(directory, run)
        change = pending_settings(journal.entries())
        if change is not None:
            sub = teardown(client, {}, options, journal, change, needed)
            report.notes.extend(sub.notes)
            report.errors.extend(sub.errors)
    deferred = TeardownReport()
    retry_deferred(client, directory, options, deferred)
    report.notes.extend(deferred.notes)
    report.errors.extend(deferred.errors)
