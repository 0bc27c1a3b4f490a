"""Find leftovers by ownership marker and delete them in dependency order, with bounded concurrency.

Only resources whose description carries our exact marker are ever touched. What counts as a
leftover: resources of smoke runs, and of ``up`` runs whose journal says they failed or never
finished; ``up`` deployments meant to stay only with ``include_up`` (or when their run is named
with ``run``). Settings a swept run changed are restored from its journal when it is at hand.
The whole sweep has a deadline; every worker failure is reported.
"""

from __future__ import annotations

import dataclasses
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Optional, Sequence

from opensearch_llm.errors import InvalidInputError, OpenSearchLLMError
from opensearch_llm.lifecycle.report import RemovalReport
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Owned, all_owned
from opensearch_llm.lifecycle.journal import Journal, UNFINISHED, journal_dirs, outcome, still_running
from opensearch_llm.lifecycle import lease
from opensearch_llm.lifecycle.naming import SETTINGS, SMOKE, parse_marker
from opensearch_llm.lifecycle.pipeline import DeletePipeline, resource_row
from opensearch_llm.resources import model_group

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.lifecycle.restore import ClusterId

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DEFAULT_DEADLINE = 300.0


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
    include_up: bool = False
    owner: Optional[str] = None  # only this user's resources (the caller, unless --all-users); None: anyone's

    def match(self, res: Owned, now: datetime, outcomes: Mapping[str, Optional[str]]) -> bool:
        """True when ``res`` passes every filter; ``outcomes`` maps run ids to their journal's outcome."""
        if self.run and res.marker.run != self.run:
            return False
        if self.blueprint and res.marker.blueprint != self.blueprint:
            return False
        if self.owner and res.marker.owner != self.owner:
            return False
        if self.older_than and now - res.marker.created_at() < self.older_than:
            return False
        run_outcome = outcomes.get(res.marker.run)
        if res.marker.kind == SETTINGS or run_outcome == RUNNING:
            return False  # an admin's standing settings (only `settings --restore`), or a run still at work
        return bool(self.run) or self.include_up or is_leftover(res, run_outcome)


def leased_runs(client: "OpenSearch", listing: Sequence[Owned], outcomes: Mapping[str, Optional[str]],
                now: datetime) -> dict[str, Owned]:
    """Runs this machine has no journal of that still hold their lease: at work on another host (a crashed one is
    sweepable once its lease ends). A run's model group speaks for it: a finished ``up`` drops the lease there.
    The group is read again by id, since a search may show its description from before that update."""
    runs: dict[str, Owned] = {}
    for res in listing:
        if outcomes.get(res.marker.run) is None and lease.is_live(res.marker, now):
            if res.kind == "model_group" or res.marker.run not in runs:
                runs[res.marker.run] = res
    for run, res in list(runs.items()):
        group = next((g for g in listing if g.kind == "model_group" and g.marker.run == run), None)
        if group is None:
            continue
        doc = model_group.get(client, group.id)
        marker = parse_marker((doc or {}).get("description"))
        if marker is None or not lease.is_live(marker, now):
            del runs[run]
    return runs


def is_leftover(res: Owned, run_outcome: Optional[str]) -> bool:
    """Smoke runs always; ``up`` runs only when their journal says they failed, never finished, or were
    taken down (what remains of them is left over)."""
    return res.marker.run_kind(res.name) == SMOKE or run_outcome in ("down", "failed", UNFINISHED)


@dataclass
class SweepReport(RemovalReport):
    """What sweep found, deleted, and could not delete."""

    found: list[dict] = field(default_factory=list)
    kept: int = 0  # up deployments left alone (no include_up)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"found": self.found, "deleted": self.deleted, "errors": self.errors,
                "leftovers": self.leftovers, "notes": self.notes, "kept_up_deployments": self.kept}


RUNNING = "running"


def run_outcomes(listing: Sequence[Owned], directories: Sequence[Path]) -> dict[str, Optional[str]]:
    """Each run's outcome according to its journal (None without a journal here; ``running`` while the
    process that journals it is alive on this host)."""
    outcomes: dict[str, Optional[str]] = {}
    for run in {r.marker.run for r in listing}:
        entries = Journal.find(directories, run).entries()
        outcomes[run] = RUNNING if still_running(entries) else outcome(entries)
    return outcomes


def find(client: "OpenSearch", filters: Filters = Filters(), now: Optional[datetime] = None,
         directories: Sequence[Path] = (), refused: Optional[list] = None) -> tuple[list[Owned], int, list[str]]:
    """Our resources that pass ``filters`` (deletion order), how many ``up`` resources were left alone, and a note
    per run left alone because it is in progress."""
    now = now or datetime.now(timezone.utc)
    listing = all_owned(client, refused=refused)
    outcomes = run_outcomes(listing, directories or journal_dirs())
    busy = leased_runs(client, listing, outcomes, now)
    outcomes.update({run: RUNNING for run in busy})
    selected = [r for r in listing if filters.match(r, now, outcomes)]
    ids = {r.id for r in selected}
    # a connector that a model staying in the cluster uses is not a leftover (a rotate killed after its switch)
    in_use = {m.doc.get("connector_id") for m in listing if m.kind == "model" and m.id not in ids}
    selected = [r for r in selected if not (r.kind == "connector" and r.id in in_use)]
    unfiltered = Filters(filters.older_than, filters.run, filters.blueprint, include_up=True, owner=filters.owner)
    kept = sum(1 for r in listing if unfiltered.match(r, now, outcomes)) - len(selected)
    notes = [f"run {run} ({res.marker.blueprint}, by {lease.who(res.marker)}) is in progress: left alone; if it "
             f"died, sweep takes it once its lease ends at {res.marker.get('lease')}"
             for run, res in busy.items() if not filters.run or run == filters.run]
    return selected, kept, notes


def caller_token(client: "OpenSearch", options: RunOptions, cluster: Optional[ClusterId] = None) -> Optional[str]:
    """The caller's marker token, to keep to their own resources; None without users or with all_users.

    With ``cluster``, a cluster without the security plugin is not asked who the caller is.
    """
    if options.all_users or (cluster is not None and "opensearch-security" not in cluster.plugins):
        return None
    from opensearch_llm.lifecycle.naming import owner_token
    from opensearch_llm.resources.security import whoami

    caller = whoami(client)
    return owner_token(caller.user) if caller else None


def sweep(client: "OpenSearch", filters: Filters = Filters(), *, delete: bool = False, concurrency: int = 4,
          options: RunOptions = RunOptions(), deadline: float = DEFAULT_DEADLINE) -> SweepReport:
    """List leftovers; with ``delete`` remove them kind by kind and restore journaled settings.

    Never raises for a cluster failure: problems land in ``report.errors`` (the CLI exits 3).
    """
    ends = time.monotonic() + deadline
    report = SweepReport()
    directories = journal_dirs(override=options.journal_dir)
    try:
        filters = dataclasses.replace(filters, owner=caller_token(client, options))
        refused: list = []
        selected, report.kept, report.notes = find(client, filters, directories=directories, refused=refused)
    except OpenSearchLLMError as exc:
        report.errors.append(f"listing our resources: {exc}")
        return report
    report.errors += [f"could not look at every kind of resource: {exc}" for exc in refused]
    report.found = [resource_row(r) for r in selected]
    if not delete:
        return report
    DeletePipeline(client, options, concurrency, report).run(selected, ends)
    if time.monotonic() >= ends:
        report.errors.append("settings not restored and leftovers not re-checked: the sweep deadline passed")
        report.leftovers = [resource_row(r) for r in selected if resource_row(r) not in report.deleted]
        return report
    _restore_settings(selected, client, options, directories, filters, report)
    try:  # one listing per kind (deletes refresh at once), not one GET per resource
        still = {(r.kind, r.id) for r in all_owned(client, {r.kind for r in selected})}
    except OpenSearchLLMError as exc:
        report.errors.append(f"checking what is left: {exc}")
        still = {(r.kind, r.id) for r in selected}
    report.leftovers = [resource_row(r) for r in selected if (r.kind, r.id) in still]
    return report


def _restore_settings(selected: Sequence[Owned], client: "OpenSearch", options: RunOptions,
                      directories: Sequence[Path], filters: Filters, report: SweepReport) -> None:
    from opensearch_llm.lifecycle.restore import restore_after_sweep

    swept = {r.marker.run for r in selected}
    try:
        restored = restore_after_sweep(client, swept, directories, options, run=filters.run,
                                       blueprint=filters.blueprint, older_than=filters.older_than,
                                       groups=[r for r in selected if r.kind == "model_group"],
                                       deleted=report.deleted)
    except OpenSearchLLMError as exc:
        report.errors.append(f"restoring settings: {exc}")
        return
    report.notes.extend(restored.notes)
    report.errors.extend(restored.errors)
