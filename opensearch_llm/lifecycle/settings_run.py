"""``opensearch-llm settings BLUEPRINT``: an admin applies (or restores) just the cluster settings a blueprint needs.

A platform team then grants ML users nothing more than ``ml_full_access``: their ``up`` finds the
settings in place and changes none. The write is journaled as a run of kind ``settings``, which
``down``, ``sweep`` and other users never restore; only ``settings --restore`` does, and it keeps every
entry a connector of ours still uses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import all_owned, cluster_nodes, cluster_uuid
from opensearch_llm.lifecycle.journal import Journal, journal_dir, journal_dirs, owner_fields, runs, start_entry
from opensearch_llm.lifecycle.naming import new_run_id
from opensearch_llm.lifecycle.restore import ClusterId, restore_runs, needed_by_others
from opensearch_llm.lifecycle.teardown import TeardownReport
from opensearch_llm.resources import settings

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
    """Merge the trusted-endpoint regexes and private-IP access ``blueprint`` needs; journal the prior values.

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
    journal = Journal.open(journal_dir(override=options.journal_dir), run_id)
    journal.write("start", blueprint=blueprint.name, mode=SETTINGS_MODE, source=blueprint.source,
                  **owner_fields((n.id for n in cluster_nodes(client)[2]), cluster_uuid(client)))
    journal.write("settings", seq=0, change=asdict(change))
    settings.apply(client, facts, change)
    journal.write("applied")
    journal.write("done", ok=True)
    return SettingsResult(blueprint.name, run_id, True, asdict(change))


def restore_settings(client: "OpenSearch", blueprint: "BlueprintIdentity",
                     options: RunOptions = RunOptions()) -> TeardownReport:
    """Undo the ``settings`` runs of ``blueprint`` on this cluster, keeping entries our connectors still use."""
    directories = journal_dirs(override=options.journal_dir)
    cluster = ClusterId(client)
    journals = [j for j in runs(directories) if is_settings_run(j.entries(), blueprint.name) and cluster.owns(j)]
    listing = all_owned(client)
    return restore_runs(client, journals, options, needed_by_others(client, (), listing))


def is_settings_run(entries: list[dict], blueprint: str = "") -> bool:
    """True for the journal of a ``settings`` run (of ``blueprint``, when given)."""
    start = start_entry(entries)
    return start.get("mode") == SETTINGS_MODE and (not blueprint or start.get("blueprint") == blueprint)
