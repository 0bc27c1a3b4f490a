"""Restoring the cluster settings a run changed, from its journal, honouring every other run of ours.

Every settings write of a run is journaled as a ``settings`` entry (with a sequence number) before
it is sent; a restore writes ``settings_restored`` (done) or ``settings_deferred`` (another run's
connector still needs an entry, or a connector of this run could not be deleted). Deferred
restores are finished by the next ``down`` or ``sweep`` (:func:`retry_deferred`).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Optional, Sequence

from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.lifecycle import ledger
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.blueprint.consumers import AGENT_FLAG, MEMORY_FLAG, RAG_FLAG
from opensearch_llm.lifecycle.facts import Owned, all_owned
from opensearch_llm.lifecycle.placement import ALLOW_CUSTOM
from opensearch_llm.lifecycle.journal import (
    Journal, recorded_on_same_cluster, runs, same_cluster, start_entry, still_running,
)
from opensearch_llm.blueprint.endpoints import endpoint_urls
from opensearch_llm.lifecycle.report import TeardownReport
from opensearch_llm.resources import model_group, settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


FLAGS_OF = {"search_pipeline": (RAG_FLAG, MEMORY_FLAG), "agent": (AGENT_FLAG, MEMORY_FLAG)}


class ClusterId:
    """Which cluster this is (its node ids and plugins, one ``_nodes`` request), asked for once and only when
    needed; the UUID (``GET /``) only for journals written before node ids were recorded."""

    def __init__(self, client: "OpenSearch") -> None:
        self.client = client
        self._nodes: Optional[tuple[frozenset, frozenset]] = None
        self._uuid: Optional[str] = None

    def _read_nodes(self) -> tuple[frozenset, frozenset]:
        if self._nodes is None:
            from opensearch_llm.lifecycle.facts import cluster_nodes

            _version, plugins, nodes = cluster_nodes(self.client)
            self._nodes = (frozenset(n.id for n in nodes), plugins)
        return self._nodes

    @property
    def node_ids(self) -> frozenset:
        """The ids of the cluster's nodes."""
        return self._read_nodes()[0]

    @property
    def plugins(self) -> frozenset:
        """The plugins every node has."""
        return self._read_nodes()[1]

    def uuid(self) -> str:
        """The cluster UUID (``GET /``)."""
        if self._uuid is None:
            from opensearch_llm.lifecycle.facts import cluster_uuid

            self._uuid = cluster_uuid(self.client)
        return self._uuid

    def owns(self, journal: Journal) -> bool:
        """True when ``journal``'s run was on this cluster."""
        return same_cluster(start_entry(journal.entries()), lambda: self.node_ids, self.uuid)


def settings_change_from(entry: dict) -> settings.SettingsChange:
    """Rebuild a SettingsChange from its journal entry."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in entry["change"].items()}
    return settings.SettingsChange(**fields)


def pending_changes(entries: list[dict]) -> list[tuple[int, settings.SettingsChange]]:
    """(seq, change) of every journaled settings write not restored yet, newest first; none for a run whose
    settings record is kept in the cluster (:func:`restore_recorded` restores those)."""
    if start_entry(entries).get("ledger"):
        return []
    writes = [e for e in entries if e["event"] == "settings"]
    done = {e.get("seq") for e in entries if e["event"] == "settings_restored"}
    if None in done:  # a journal from before sequence numbers: one restore covered its one write
        return []
    pending = [(e.get("seq", 0), settings_change_from(e)) for e in writes if e.get("seq", 0) not in done]
    return sorted(pending, key=lambda item: item[0], reverse=True)


def needed_by_others(client: "OpenSearch", leaving: Iterable[str], known: Optional[list[Owned]] = None) -> list[str]:
    """What our resources that stay in the cluster still need: their connectors' endpoint URLs (the trusted
    regexes stay), the feature flags of their RAG pipelines and agents, custom deployment plans.

    ``known`` is a listing taken earlier in the same teardown, saving the searches.
    """
    gone = set(leaving)
    staying = [r for r in (known if known is not None else all_owned(client)) if r.id not in gone]
    urls = [url for c in staying if c.kind == "connector" for url in endpoint_urls(c.doc)]
    flags = {flag for r in staying for flag in FLAGS_OF.get(r.kind, ())}
    if any(r.kind == "model" and r.doc.get("deploy_to_all_nodes") is False for r in staying):
        flags.add(ALLOW_CUSTOM)  # a model on a custom deployment plan
    return urls + sorted(flags)


def known_default(journal: Journal) -> Optional[tuple[str, ...]]:
    """The default trusted-endpoint list of ``journal``'s cluster, as a run of ours there saw it before anything
    was set (from any journal next to it), or None."""
    start = start_entry(journal.entries())
    for other in runs([journal.path.parent]):
        entries = other.entries()
        if not recorded_on_same_cluster(start, start_entry(entries)):
            continue
        for entry in entries:
            default = entry.get("change", {}).get("default_trusted") if entry["event"] == "settings" else None
            if default is not None:
                return tuple(default)
    return None


def restore_journaled(client: "OpenSearch", journal: Journal, options: RunOptions,
                      still_needed: Iterable[str] = (), defer: bool = False) -> TeardownReport:
    """Undo ``journal``'s pending settings writes, newest first; ``defer`` postpones them all."""
    report = TeardownReport()
    needed = list(still_needed)
    for seq, change in pending_changes(journal.entries()):
        if not change.changes:
            continue
        timer = StepTimer(options, "restore settings")
        if defer:
            journal.write("settings_deferred", seq=seq)
            report.notes.append("cluster settings left as they are: a connector of this run is still there; "
                                "the next down or sweep restores them")
            timer.done("deferred: a connector is still there")
            continue
        try:
            outcome = settings.restore(client, change, needed, known_default(journal))
        except OpenSearchLLMError as exc:
            report.errors.append(f"settings: {exc}")
            timer.done(str(exc), status="failed")
            continue
        report.notes.extend(outcome.notes)
        journal.write("settings_restored" if outcome.complete else "settings_deferred", seq=seq)
        timer.done("; ".join(outcome.notes) or "restored")
    return report


def retry_deferred(client: "OpenSearch", directories: Sequence[Path], options: RunOptions,
                   cluster: Optional[ClusterId] = None, tried: Iterable[str] = ()) -> TeardownReport:
    """Finish settings restores that earlier runs on this cluster deferred; one listing of our connectors for all.

    ``tried``: runs whose restore this command has just attempted (not retried at once).
    """
    report = TeardownReport()
    needed: Optional[list[str]] = None
    cluster = cluster or ClusterId(client)
    skip = set(tried)
    for journal in runs(directories):
        if journal.run_id in skip:
            continue
        entries = journal.entries()
        if not any(e["event"] == "settings_deferred" for e in entries) or not pending_changes(entries):
            continue
        if not cluster.owns(journal):
            continue
        needed = needed_by_others(client, ()) if needed is None else needed
        report.merge(restore_journaled(client, journal, options, needed))
    return report


def restore_runs(client: "OpenSearch", journals: Iterable[Journal], options: RunOptions,
                 still_needed: Iterable[str]) -> TeardownReport:
    """Restore the pending settings of several runs (``down`` of a blueprint, ``sweep``)."""
    report = TeardownReport()
    needed = list(still_needed)
    for journal in journals:
        report.merge(restore_journaled(client, journal, options, needed))
    return report


def orphaned(directories: Sequence[Path], alive_runs: set, cluster: ClusterId, *, run: Optional[str] = None,
             blueprint: Optional[str] = None, older_than: Optional[timedelta] = None) -> list[Journal]:
    """Journals of this cluster with settings still to restore whose run has nothing left in it (swept
    elsewhere, or killed before its first create) and whose process is not running any more."""
    now = datetime.now(timezone.utc)
    out = []
    for journal in runs(directories):
        if journal.run_id in alive_runs or (run and journal.run_id != run):
            continue
        entries = journal.entries()
        if not pending_changes(entries) or still_running(entries) or not cluster.owns(journal):
            continue
        start = start_entry(entries)
        if start.get("mode") == "settings":  # an admin's standing settings: only `settings --restore` undoes them
            continue
        if blueprint and start.get("blueprint") != blueprint:
            continue
        if older_than and now - _started(start, now) < older_than:
            continue
        out.append(journal)
    return out


def _started(start: dict, now: datetime) -> datetime:
    try:
        return datetime.fromisoformat(start["ts"])
    except (KeyError, ValueError):
        return now


def restore_after_sweep(client: "OpenSearch", swept: set, directories: Sequence[Path], options: RunOptions, *,
                        run: Optional[str] = None, blueprint: Optional[str] = None,
                        older_than: Optional[timedelta] = None, groups: Sequence[Owned] = (),
                        deleted: Sequence[dict] = ()) -> TeardownReport:
    """Restore the settings recorded on the swept model groups (``groups``, of which ``deleted`` are gone), then
    those of the swept runs' legacy journals, of orphaned journals, and deferred restores (this cluster only)."""
    listing = all_owned(client)
    recorded = restore_recorded(client, TeardownReport(deleted=list(deleted)), groups, listing, options)
    cluster = ClusterId(client)
    journals = [j for j in (Journal.find(directories, r) for r in sorted(swept, reverse=True)) if cluster.owns(j)]
    journals += orphaned(directories, {r.marker.run for r in listing} | swept, cluster, run=run,
                         blueprint=blueprint, older_than=older_than)
    journals = [j for j in journals if pending_changes(j.entries())]
    if journals:
        recorded.merge(restore_runs(client, journals, options, needed_by_others(client, (), listing)))
    recorded.merge(retry_deferred(client, directories, options, cluster, [j.run_id for j in journals]))
    return recorded


def restore_recorded(client: "OpenSearch", report: TeardownReport, groups: Sequence[Owned],
                     listing: Optional[Sequence[Owned]], options: RunOptions) -> TeardownReport:
    """Restore the settings that the records of ``groups`` (model groups ``report`` says are gone) hold, keeping
    whatever the records of the groups that stay, their connectors and their consumers still need.

    ``listing`` is a listing taken earlier in the same command. Where it would keep an entry for another run, the
    cluster is listed again first: that run may have been removed in the meantime (two ``down`` at once).
    """
    gone = {d["id"] for d in [*report.deleted, *report.missing]}
    records = [r for r in (ledger.record_of(g.marker) for g in groups if g.id in gone) if not r.empty]
    out = TeardownReport()
    if not records:
        return out
    timer = StepTimer(options, "restore settings")
    # a flag is kept for the consumers of any kind that stay, which a listing of fewer kinds does not show: list
    # everything now. A listing taken before is fresh enough until it would keep something for another run
    # (that run may have gone since: two `down`s at once), then the cluster is listed again.
    flags = any(r.flags for r in records)
    state = {"listing": None if flags else listing, "fresh": listing is None or flags}
    first: list[ledger.RestorePlan] = []

    def body_for(now: settings.SettingsFacts) -> dict:
        planned = _restore_plan(client, now, records, gone, state)
        if planned.notes and not state["fresh"]:
            state["fresh"] = True  # looked at again once per restore
            if not _keepers_still_there(client, planned, state["listing"], gone):
                state["listing"] = None
                planned = _restore_plan(client, now, records, gone, state)
        first.append(planned)
        return planned.body

    try:
        settings.write_until_restored(client, body_for, options.sleep)
    except OpenSearchLLMError as exc:
        out.errors.append(f"settings: {exc}")
        timer.done(str(exc), status="failed")
        return out
    out.notes.extend(first[0].notes if len(first) == 1 else first[-1].notes)
    out.errors.extend(f"settings: {c}" for c in first[0].conflicts)
    timer.done("; ".join([*out.notes, *first[0].conflicts]) or "restored")
    return out


def _restore_plan(client: "OpenSearch", now: settings.SettingsFacts, records: Sequence[ledger.SettingsRecord],
                  gone: set, state: dict) -> ledger.RestorePlan:
    if state["listing"] is None:
        state["listing"] = all_owned(client)
    listing = list(state["listing"])
    staying = [ledger.record_of(r.marker) for r in listing if r.kind == "model_group" and r.id not in gone]
    return ledger.plan_restore(now, records, staying, needed_by_others(client, gone, listing))


def _keepers_still_there(client: "OpenSearch", planned: ledger.RestorePlan, listing: Sequence[Owned],
                         gone: set) -> bool:
    """True when everything ``planned`` keeps is kept for other runs' records, and each of those runs' groups is
    still there (read by id: one request each, where listing everything again takes seven)."""
    if not all(ledger.FOR_ANOTHER_RUN in note for note in planned.notes):
        return False
    keepers = [r for r in listing if r.kind == "model_group" and r.id not in gone
               and not ledger.record_of(r.marker).empty]
    return all(model_group.get(client, r.id) is not None for r in keepers)
