"""Find leftovers by ownership marker and delete them in dependency order, with bounded concurrency.

Only resources whose description carries our exact marker are ever touched. Settings a swept
run changed are restored from its journal when the journal is at hand.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Optional

from opensearch_llm.errors import InvalidInputError, OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Owned, all_owned
from opensearch_llm.lifecycle.journal import Journal, journal_dir
from opensearch_llm.lifecycle.teardown import ORDER, delete_with_retry, teardown

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


def _delete_kind(client: Any, items: list[Owned], options: RunOptions, workers: int,
                 report: SweepReport) -> None:
    def one(res: Owned) -> None:
        try:
            delete_with_retry(client, res.kind, res.id, options)
            report.deleted.append(_row(res))
        except OpenSearchLLMError as exc:
            report.errors.append(f"{res.kind} {res.id}: {exc}")

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(one, items))


def sweep(client: Any, filters: Filters = Filters(), *, delete: bool = False, concurrency: int = 4,
          options: RunOptions = RunOptions()) -> SweepReport:
    """List leftovers; with ``delete`` remove them kind by kind and restore journaled settings."""
    selected = find(client, filters)
    report = SweepReport(found=[_row(r) for r in selected])
    if not delete:
        return report
    for kind in ORDER:
        _delete_kind(client, [r for r in selected if r.kind == kind], options, concurrency, report)
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
