"""``opensearch-llm settings BLUEPRINT``: an admin applies (or restores) just the cluster settings a blueprint needs.

A platform team then grants ML users nothing more than ``ml_full_access``: their ``up`` finds the
settings in place and changes none. The write is recorded in the cluster on a model group of kind
``settings`` (named ``opensearch-llm-settings-<blueprint>-<run>``), which ``down``, ``sweep`` and other
users never remove; only ``settings --restore`` does, from any machine, and it keeps every entry a
connector of ours still uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle import ledger
from opensearch_llm.lifecycle.facts import all_owned, cluster_nodes
from opensearch_llm.lifecycle.journal import Journal, journal_dir, journal_dirs, owner_fields, runs, start_entry
from opensearch_llm.lifecycle.naming import SETTINGS, TOOLKIT, Marker, new_run_id, now_utc, owner_token, with_marker
from opensearch_llm.lifecycle.restore import (
    ClusterId, needed_by_others, pending_changes, restore_recorded, restore_runs,
)
from opensearch_llm.lifecycle.teardown import TeardownReport, teardown
from opensearch_llm.resources import model_group, settings

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.identity import BlueprintIdentity

SETTINGS_MODE = "settings"


@dataclass
class SettingsResult:
    """What ``settings`` wrote (``change``) under which run, or that nothing was needed."""

    blueprint: str
    run_id: str
    changed: bool
    change: dict

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def apply_settings(client: "OpenSearch", blueprint: "BlueprintIdentity",
                   options: RunOptions = RunOptions()) -> SettingsResult:
    """Merge the trusted-endpoint regexes and private-IP access ``blueprint`` needs, recorded in the cluster on a
    model group of kind ``settings`` (its marker holds the settings record, see :mod:`lifecycle.ledger`).

    Needs no provider key: only the endpoint URLs (see :func:`~opensearch_llm.blueprint.identity.load_identity`).
    """
    if not blueprint.endpoints:
        raise InvalidInputError(f"{blueprint.source}: the connector's endpoint URLs do not resolve",
                                hint="set the variables its parameters read (see `opensearch-llm blueprints`)")
    facts = settings.read(client)
    change = settings.plan_change(facts, list(blueprint.endpoints))
    run_id = new_run_id()
    if not change.changes:
        return SettingsResult(blueprint.name, run_id, False, {})
    live = [ledger.record_of(g.marker) for g in all_owned(client, ["model_group"])]
    record = ledger.record_for(facts, change, list(blueprint.endpoints), (), live)
    journal = Journal.open(journal_dir(override=options.journal_dir), run_id)
    journal.write("start", blueprint=blueprint.name, mode=SETTINGS_MODE, source=blueprint.source, ledger=True,
                  **owner_fields(n.id for n in cluster_nodes(client)[2]))
    marker = Marker(run_id, blueprint.name, now_utc(), None, SETTINGS, caller_owner(client)).with_extra(
        **record.tokens())
    group_id = model_group.create(client, f"{TOOLKIT}-settings-{blueprint.name}-{run_id.lower()}",
                                  with_marker(f"cluster settings for {blueprint.name}", marker))
    journal.write("created", kind="model_group", id=group_id)

    def journaled(_facts: settings.SettingsFacts, written: settings.SettingsChange) -> None:
        journal.write("settings", seq=0, change=asdict(written))

    settings.ensure(client, list(blueprint.endpoints), (), options.sleep, journaled)
    journal.write("applied")
    journal.write("done", ok=True)
    return SettingsResult(blueprint.name, run_id, True, asdict(change))


def restore_settings(client: "OpenSearch", blueprint: "BlueprintIdentity",
                     options: RunOptions = RunOptions()) -> TeardownReport:
    """Undo the ``settings`` runs of ``blueprint`` (found in the cluster, from any machine), keeping entries
    that the connectors and records of ours that stay still need."""
    listing = all_owned(client)
    groups = [r for r in listing if r.kind == "model_group" and r.marker.kind == SETTINGS
              and r.marker.blueprint == blueprint.name]
    still = _still_needed(client, groups, listing)
    if still:  # the record stays with its group until nothing of ours needs the entries
        return TeardownReport(errors=[f"settings: {note}; run `opensearch-llm settings {blueprint.source} --restore` "
                                      "again once those are down" for note in still])
    report = teardown(client, {"model_group": [g.id for g in groups]}, options)
    report.merge(restore_recorded(client, report, groups, listing, options))
    directories = journal_dirs(override=options.journal_dir)  # runs from before the record was in the cluster
    cluster = ClusterId(client)
    journals = [j for j in runs(directories) if is_settings_run(j.entries(), blueprint.name)
                and pending_changes(j.entries()) and cluster.owns(j)]
    if journals:
        report.merge(restore_runs(client, journals, options, needed_by_others(client, (), listing)))
    return report


def _still_needed(client: "OpenSearch", groups: list, listing: list) -> tuple[str, ...]:
    """Why restoring ``groups``' records now would keep an entry (a run of ours still uses it), if it would."""
    records = [ledger.record_of(g.marker) for g in groups]
    if not groups or all(r.empty for r in records):
        return ()
    gone = {g.id for g in groups}
    staying = [ledger.record_of(r.marker) for r in listing if r.kind == "model_group" and r.id not in gone]
    return ledger.plan_restore(settings.read(client), records, staying, needed_by_others(client, gone, listing)).notes


def caller_owner(client: "OpenSearch") -> Optional[str]:
    """The caller's user name as a marker token, where the cluster has users."""
    from opensearch_llm.resources.security import whoami

    if "opensearch-security" not in cluster_nodes(client)[1]:
        return None
    caller = whoami(client)
    return owner_token(caller.user) if caller else None
def is_settings_run(entries: list[dict], blueprint: str = "") -> bool:
    """True for the journal of a ``settings`` run (of ``blueprint``, when given)."""
    start = start_entry(entries)
    return start.get("mode") == SETTINGS_MODE and (not blueprint or start.get("blueprint") == blueprint)
