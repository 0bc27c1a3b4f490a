"""Finding what to remove (journal first, ownership marker as fallback) and removing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional

from opensearch_llm.errors import LeftoversError
from opensearch_llm.lifecycle.apply import settings_change_from
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Owned, all_owned, owned
from opensearch_llm.lifecycle.journal import Journal, created, runs
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.lifecycle.plan import endpoint_urls
from opensearch_llm.lifecycle.teardown import TeardownReport, teardown
from opensearch_llm.resources import connector, settings


def urls_still_needed(client: Any, leaving: Iterable[str], known: Optional[list[Owned]] = None) -> list[str]:
    """Endpoint URLs of our connectors that stay in the cluster (their trusted regexes must stay).

    ``known`` is a listing taken earlier in the same teardown, saving a search.
    """
    gone = set(leaving)
    connectors = [c for c in known if c.kind == "connector"] if known is not None \
        else owned("connector", connector.list_marked(client))
    return [url for c in connectors if c.id not in gone for url in endpoint_urls(c.doc)]


def pending_settings(entries: list[dict]) -> Optional[settings.SettingsChange]:
    restored = any(e["event"] == "settings_restored" for e in entries)
    change = next((e for e in entries if e["event"] == "settings"), None)
    return None if restored or change is None else settings_change_from(change)


def remove_run(client: Any, journal: Journal, options: RunOptions) -> TeardownReport:
    """Remove what run ``journal.run_id`` created: ids from its journal, else by marker."""
    entries = journal.entries()
    ids: dict[str, list[str]] = {kind: [rid] for kind, rid in created(entries).items()}
    listing = all_owned(client)
    for res in listing:
        if res.marker.run == journal.run_id:
            ids.setdefault(res.kind, []).append(res.id)
    report = teardown(client, ids, options, journal if entries else None, pending_settings(entries),
                      urls_still_needed(client, _flat(ids), listing))
    if entries:
        journal.write("down", clean=report.clean)
    retry_deferred(client, journal.path.parent, options, report)
    return report


def retry_deferred(client: Any, directory: Path, options: RunOptions, report: TeardownReport) -> None:
    """Finish settings restores that earlier runs deferred because other runs still needed them."""
    needed = None
    for journal in runs(directory):
        entries = journal.entries()
        if not any(e["event"] == "settings_deferred" for e in entries):
            continue
        change = pending_settings(entries)
        if change is None:
            continue
        needed = urls_still_needed(client, ()) if needed is None else needed
        sub = teardown(client, {}, options, journal, change, needed)
        report.notes.extend(sub.notes)
        report.errors.extend(sub.errors)


def remove_blueprint(client: Any, blueprint: Any, directory: Path, options: RunOptions) -> TeardownReport:
    """Remove the stable-named resources of ``blueprint`` and restore the settings its runs changed."""
    names = names_for(blueprint)
    wanted = {"model": names.model, "connector": names.connector, "model_group": names.model_group}
    ids: dict[str, list[str]] = {}
    listing = all_owned(client)
    for res in listing:
        if res.marker.blueprint == blueprint.name and res.name == wanted[res.kind]:
            ids.setdefault(res.kind, []).append(res.id)
    journals = [j for j in runs(directory) if _is_up_of(j.entries(), blueprint.name)]
    changes = [(j, c) for j in journals if (c := pending_settings(j.entries())) is not None]
    report = teardown(client, ids, options)
    needed = urls_still_needed(client, _flat(ids), listing)
    for journal, change in changes:
        sub = teardown(client, {}, options, journal, change, needed)
        report.notes.extend(sub.notes)
        report.errors.extend(sub.errors)
    retry_deferred(client, directory, options, report)
    if not journals and (ids or report.deleted):
        report.notes.append(f"no run journal of {blueprint.name} in {directory}: cluster settings left as they are")
    return report


def _flat(ids: dict[str, list[str]]) -> list[str]:
    return [rid for rids in ids.values() for rid in rids]


def _is_up_of(entries: list[dict], name: str) -> bool:
    start = next((e for e in entries if e["event"] == "start"), None)
    return bool(start) and start.get("blueprint") == name and start.get("mode") == "up"


def summary(report: TeardownReport) -> str:
    """One line: what was deleted, what is left."""
    deleted = ", ".join(f"{d['kind']} {d['id']}" for d in report.deleted) or "nothing"
    tail = f"; LEFT: {report.leftovers}" if report.leftovers else ""
    errors = f"; errors: {report.errors}" if report.errors else ""
    return f"deleted {deleted}{tail}{errors}"


def raise_if_left(report: TeardownReport, what: str) -> None:
    """Raise :class:`LeftoversError` (exit 3) when anything is left."""
    if not report.clean:
        raise LeftoversError(f"{what} left resources behind: {summary(report)}",
                             leftovers=report.leftovers, errors=report.errors)
