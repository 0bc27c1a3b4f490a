"""Finding what to remove (journal first, ownership marker as fallback) and removing it.

Removal needs names and ids, never a secret: a blueprint is identified by its
:class:`~opensearch_llm.blueprint.identity.BlueprintIdentity` (a full :class:`Blueprint` has one).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence, Union

from opensearch_llm.blueprint.consumers import STEP_KINDS
from opensearch_llm.errors import InvalidInputError, LeftoversError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import ALL_KINDS, Owned, all_owned, kinds_of
from opensearch_llm.lifecycle.journal import Journal, created, runs, start_entry
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.lifecycle.restore import (
    ClusterId, pending_changes, restore_recorded, restore_runs, retry_deferred, needed_by_others,
)
from opensearch_llm.lifecycle.teardown import TeardownReport, teardown

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.identity import BlueprintIdentity
    from opensearch_llm.blueprint.model import Blueprint


def refuse_others(found: Sequence[Owned], owner: Optional[str]) -> None:
    """Exit 2 when any of ``found`` belongs to another user than ``owner`` (None: no users to tell apart)."""
    theirs = sorted({r.marker.owner or "unknown" for r in found if owner and r.marker.owner != owner})
    if theirs:
        raise InvalidInputError(f"these resources belong to {', '.join(theirs)}, not to {owner}; nothing was "
                                "changed", hint="an admin can act on every user's runs with --all-users")


def remove_run(client: "OpenSearch", journal: Journal, options: RunOptions, directories: Sequence[Path] = (),
               owner: Optional[str] = None, cluster: Optional[ClusterId] = None) -> TeardownReport:
    """Remove what run ``journal.run_id`` created (ids from its journal, else by marker); restore its settings.

    With ``owner``, a run that another user created is refused (exit 2) before anything changes.
    """
    entries = journal.entries()
    ids: dict[str, list[str]] = created(entries)
    start = start_entry(entries) if entries else {}
    steps = (start.get("names") or {}).get("consumers") if start else None
    refused: list = []
    listing = all_owned(client, kinds_of(steps or []) | set(ids) if start else ALL_KINDS, refused=refused)
    refuse_others([r for r in listing if r.marker.run == journal.run_id], owner)
    if refused:  # a kind the caller may not list may hold part of the run: never report it removed
        raise refused[0]
    for res in listing:
        if res.marker.run == journal.run_id:
            ids.setdefault(res.kind, []).append(res.id)
    leaving = [rid for rids in ids.values() for rid in rids]
    cluster = cluster or ClusterId(client)
    foreign = bool(pending_changes(entries)) and not cluster.owns(journal)
    legacy = bool(pending_changes(entries))  # a run from before the settings record was kept in the cluster
    report = teardown(client, ids, options, journal if entries else None,
                      needed_by_others(client, leaving, listing if not _turns_flags_on(entries) else None)
                      if legacy else (), restore_settings=not foreign, deployed=deployed_models(listing))
    groups = [r for r in listing if r.kind == "model_group" and r.marker.run == journal.run_id]
    report.merge(restore_recorded(client, report, groups, listing, options))
    if foreign:
        report.notes.append(f"the journal of run {journal.run_id} was written for another cluster: "
                            "its settings changes are not restored here")
    if entries:
        journal.write("down", clean=report.clean)
    report.merge(retry_deferred(client, directories or [journal.path.parent], options, cluster, [journal.run_id]))
    return report


def remove_blueprint(client: "OpenSearch", blueprint: Union["Blueprint", "BlueprintIdentity"],
                     directories: Sequence[Path], options: RunOptions, owner: Optional[str] = None,
                     cluster: Optional[ClusterId] = None) -> TeardownReport:
    """Remove the stable-named resources of ``blueprint`` and restore the settings its ``up`` runs on this
    cluster changed."""
    names = names_for(blueprint)
    wanted = {("model", names.model), ("connector", names.connector), ("model_group", names.model_group),
              *((STEP_KINDS[step], name) for step, name in names.consumers)}
    ids: dict[str, list[str]] = {}
    listing = all_owned(client, kinds_of(names.consumers))
    # a smoke memory is named after its run: every one of this blueprint's goes
    mine = [r for r in listing if r.marker.blueprint == blueprint.name
            and ((r.kind, r.name) in wanted or r.kind == "memory")]
    refuse_others(mine, owner)
    for res in mine:
        ids.setdefault(res.kind, []).append(res.id)
    cluster = cluster or ClusterId(client)
    journals = [j for j in runs(directories) if _is_up_of(j.entries(), blueprint.name)
                and (not pending_changes(j.entries()) or cluster.owns(j))]
    report = teardown(client, ids, options, deployed=deployed_models(listing))
    leaving = [rid for rids in ids.values() for rid in rids]
    journals = [j for j in journals if pending_changes(j.entries())]  # runs from before the cluster record
    if report.leftovers or report.errors:
        report.notes.append("cluster settings left as they are until the leftovers are gone")
    else:
        report.merge(restore_recorded(client, report, [r for r in mine if r.kind == "model_group"], listing, options))
        if journals:
            flags = any(_turns_flags_on(j.entries()) for j in journals)
            report.merge(restore_runs(client, journals, options,
                                      needed_by_others(client, leaving, listing if not flags else None)))
    if journals:
        report.merge(retry_deferred(client, directories, options, cluster, [j.run_id for j in journals]))
    return report


def deployed_models(listing: Sequence[Owned]) -> set[str]:
    """Models a search shows DEPLOYED: no deploy of theirs is still running."""
    return {r.id for r in listing if r.kind == "model" and r.doc.get("model_state") == "DEPLOYED"}


def _turns_flags_on(entries: list[dict]) -> bool:
    """True when the run turned a feature flag on: restoring it needs every other consumer of ours, not only
    the kinds listed for this blueprint."""
    return any(change.enable_flags for _seq, change in pending_changes(entries))


def _is_up_of(entries: list[dict], name: str) -> bool:
    start = next((e for e in entries if e["event"] == "start"), None)
    return bool(start) and start.get("blueprint") == name and start.get("mode") == "up"


def raise_if_left(report: TeardownReport, what: str) -> None:
    """Raise :class:`LeftoversError` (exit 3) when anything is left."""
    if not report.clean:
        raise LeftoversError(f"{what} left resources behind: {report.summary()}",
                             leftovers=report.leftovers, errors=report.errors)
