"""Rolling back a run that failed: what it created goes, the settings it wrote are restored, and what cannot go
is named with the command that finishes the job.

:func:`roll_back_run` is the rollback of ``apply`` (a failure while provisioning); ``api.up`` rolls back after a
failed smoke probe through :func:`removal.remove_run <opensearch_llm.lifecycle.removal.remove_run>`; both end
with :func:`conclude`.
"""

from __future__ import annotations

from typing import Optional

from opensearch_llm.blueprint.consumers import STEP_KINDS
from opensearch_llm.errors import ClusterError, LeftoversError
from opensearch_llm.lifecycle.events import add_note
from opensearch_llm.lifecycle.facts import Owned, all_owned, kinds_of
from opensearch_llm.lifecycle.naming import Marker
from opensearch_llm.lifecycle.provisioned import RunInProgress
from opensearch_llm.lifecycle.report import TeardownReport
from opensearch_llm.lifecycle.restore import restore_recorded
from opensearch_llm.lifecycle.switch import revert
from opensearch_llm.lifecycle.teardown import teardown

LATE_CREATE_PAUSE = 0.5
UNKNOWN_OUTCOME = (None, 429, 500, 502, 503, 504)


def outcome_unknown(exc: ClusterError) -> bool:
    """True when a create may or may not have happened (no answer, or a transient server error)."""
    return exc.status in UNKNOWN_OUTCOME


def incomplete(report: TeardownReport, run_id: str) -> str:
    """The one message for a rollback that left something, with the command that finishes it."""
    return f"rollback incomplete: {report.summary()}; finish it with: opensearch-llm sweep --run {run_id} --yes"


def conclude(exc: BaseException, report: TeardownReport, run_id: str) -> None:
    """Attach ``report`` to ``exc``; raise LeftoversError (exit 3) from it when something stays.

    An interrupt (Ctrl-C, SIGTERM) stays an interrupt (exit 130): what is left goes into its notes.
    """
    exc.rollback_report = report  # type: ignore[attr-defined]  # smoke --json lists what went
    if report.clean:
        add_note(exc, f"rolled back this run: {report.summary()}")
        return
    if not isinstance(exc, Exception):
        add_note(exc, incomplete(report, run_id))
        return
    left = LeftoversError(f"{exc}\n  {incomplete(report, run_id)}", leftovers=report.leftovers, errors=report.errors)
    left.rollback_report = report  # type: ignore[attr-defined]
    for note in getattr(exc, "__notes__", []):
        add_note(left, note)
    raise left from exc


def roll_back_run(run: RunInProgress, settings_writes: int, group_marker: Optional[Marker],
                  exc: BaseException) -> None:
    """Remove what ``run`` created (its journal, and a search for its marker: a create whose answer was lost
    still carries it) and restore the settings it wrote; raise LeftoversError (exit 3) when something stays."""
    if run.result.switched:  # the live model first goes back to the connector it had
        revert(run.client, run.result.switched, run.journal, run.options, exc)
    in_flight = not isinstance(exc, Exception) or (isinstance(exc, ClusterError) and outcome_unknown(exc))
    if in_flight:  # a request the interrupt cut off may still create something: let it land first
        run.options.sleep(LATE_CREATE_PAUSE)
    created, listing = _created(run, exc)
    if not created and not settings_writes:
        return
    report = teardown(run.client, created, run.options, run.journal)
    groups = [r for r in listing or [] if r.kind == "model_group" and r.marker.run == run.plan.run_id]
    if group_marker and "model_group" in run.result.created:
        groups.append(Owned("model_group", run.result.ids["model_group"], "", group_marker))
    report.merge(restore_recorded(run.client, report, groups, listing, run.options))
    if in_flight:
        report.merge(_late(run, report))
        _forget_gone(report)
    for note in report.notes:
        add_note(exc, note)
    if not report.clean:
        for err in report.errors:
            add_note(exc, f"cleanup error: {err}")
    conclude(exc, report, run.plan.run_id)


def _created(run: RunInProgress, exc: BaseException) -> tuple[dict[str, list[str]], Optional[list[Owned]]]:
    created: dict[str, list[str]] = {}
    for key in run.result.created:
        created.setdefault(STEP_KINDS.get(key, key), []).append(run.result.ids[key])
    try:
        listing = all_owned(run.client, kinds_of(run.plan.names.consumers))
    except ClusterError as err:
        add_note(exc, f"cleanup error: could not search for this run's resources: {err}")
        return created, None
    for res in listing:
        if res.marker.run == run.plan.run_id and res.id not in created.get(res.kind, []):
            created.setdefault(res.kind, []).append(res.id)
    return created, listing


def _late(run: RunInProgress, report: TeardownReport) -> TeardownReport:
    """A request in flight when the run was interrupted (or lost its answer) may still create something after
    the rollback looked: look again after a pause, and remove what turned up."""
    done = {d["id"] for d in [*report.deleted, *report.missing]}
    out = TeardownReport()
    for _attempt in range(2):
        run.options.sleep(LATE_CREATE_PAUSE)
        try:
            late = [r for r in all_owned(run.client, kinds_of(run.plan.names.consumers))
                    if r.marker.run == run.plan.run_id and r.id not in done]
        except ClusterError as err:
            out.errors.append(f"looking for late creates of this run: {err}")
            return out
        if not late:
            return out
        ids: dict[str, list[str]] = {}
        for res in late:
            ids.setdefault(res.kind, []).append(res.id)
        found = teardown(run.client, ids, run.options, run.journal)
        found.merge(restore_recorded(run.client, found, [r for r in late if r.kind == "model_group"], None,
                                     run.options))
        out.merge(found)
        done |= {r.id for r in late}
    return out


def _forget_gone(report: TeardownReport) -> None:
    """Drop the errors and leftovers of resources a later pass removed after all (a group refused while a late
    model still sat in it)."""
    gone = {d["id"] for d in [*report.deleted, *report.missing]}
    report.leftovers = [left for left in report.leftovers if left["id"] not in gone]
    report.errors = [e for e in report.errors if not any(e.startswith(f"{kind} {rid}:") for kind, rid in
                                                         ((d["kind"], d["id"]) for d in report.deleted))]
