"""What the cluster holds that a plan depends on: version, ML plugin, settings, our resources."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.naming import Marker, Names, parse_marker
from opensearch_llm.resources import (
    agent, connector, index, ingest_pipeline, memory, model, model_group, search_pipeline, settings,
)
from opensearch_llm.resources.security import Principal, whoami

if TYPE_CHECKING:
    from opensearchpy import OpenSearch


@dataclass(frozen=True)
class Owned:
    """A resource of ours found in the cluster."""

    kind: str
    id: str
    name: str
    marker: Marker
    doc: dict = field(repr=False, default_factory=dict)


@dataclass(frozen=True)
class Facts:
    """Everything the planner reads; plain data, gathered once."""

    version: str
    ml_present: bool
    settings: settings.SettingsFacts
    model_group: Optional[Owned] = None
    connector: Optional[Owned] = None
    model: Optional[Owned] = None
    foreign_group_id: Optional[str] = None
    security: bool = False  # the security plugin is installed
    caller: Optional[Principal] = None  # who we are, where the cluster authenticates users
    plugins: frozenset = frozenset()  # plugin names every node has
    nodes: tuple = ()  # Node of every node in the cluster
    consumers: dict = field(default_factory=dict)  # step → Owned, for the blueprint's RAG/agent/ingest resources
    foreign_consumers: dict = field(default_factory=dict)  # step → name of a same-named resource not ours
    forbidden_consumers: dict = field(default_factory=dict)  # step → the permission the caller was refused
    groups: tuple = ()  # every model group of ours (their markers hold the settings records, lifecycle.ledger)


def owned(kind: str, docs: list[dict]) -> list[Owned]:
    """Only documents whose description carries our exact marker."""
    out = []
    for doc in docs:
        marker = parse_marker(doc.get("description"))
        if marker:
            out.append(Owned(kind, doc["id"], doc.get("name", ""), marker, doc))
    return out


# deletion order: what uses the model first, the model group last
LISTERS = (("memory", memory.list_marked), ("agent", agent.list_marked),
           ("search_pipeline", search_pipeline.list_marked), ("index", index.list_marked),
           ("ingest_pipeline", ingest_pipeline.list_marked), ("model", model.list_marked),
           ("connector", connector.list_marked), ("model_group", model_group.list_marked))
MODEL_KINDS = frozenset({"model", "connector", "model_group"})
ALL_KINDS = frozenset(kind for kind, _lister in LISTERS)


def _listing(client: "OpenSearch", kind: str, lister: Any) -> list[Owned]:
    try:
        return owned(kind, lister(client))
    except ClusterError as exc:
        # only a 404 means "none": a 403 or a 5xx says nothing about what is there
        if exc.status == 403:
            exc.hint = (f"looking for {kind.replace('_', ' ')}s of ours needs {refused_permission(exc.message)}; "
                        "ask an admin for it (docs/permissions.md), or act on one blueprint or run at a time")
        raise


def all_owned(client: "OpenSearch", kinds: Iterable[str] = ALL_KINDS,
              refused: Optional[list[ClusterError]] = None) -> list[Owned]:
    """Every resource of ``kinds`` in the cluster that carries our ownership marker, in deletion order.

    A kind the caller may not list raises (403), unless ``refused`` collects those errors: the caller then acts on
    what it can see and reports the rest (never as "nothing there")."""
    wanted = [(kind, lister) for kind, lister in LISTERS if kind in set(kinds)]

    def listing(kind: str, lister: Any) -> list[Owned]:
        try:
            return _listing(client, kind, lister)
        except ClusterError as exc:
            if refused is None or exc.status != 403:
                raise
            refused.append(exc)
            return []

    with ThreadPoolExecutor(max_workers=len(wanted) or 1) as pool:
        lists = pool.map(lambda kind_lister: listing(*kind_lister), wanted)
        return [res for found in lists for res in found]


def kinds_of(consumer_steps: Iterable[Any]) -> frozenset:
    """The kinds a blueprint's resources can have: the model's three, its consumers' and, with any consumer,
    the smoke memories."""
    from opensearch_llm.blueprint.consumers import STEP_KINDS

    found = {STEP_KINDS[step] for step, _name in consumer_steps}
    return MODEL_KINDS | found | ({"memory"} if found else set())


def all_of_run(client: "OpenSearch", run_id: str) -> list[Owned]:
    """Every resource carrying ``run_id`` in its ownership marker."""
    return [r for r in all_owned(client) if r.marker.run == run_id]


def _pick(items: list[Owned], name: str, blueprint: str) -> Optional[Owned]:
    matches = [o for o in items if o.name == name and o.marker.blueprint == blueprint]
    return max(matches, key=lambda o: o.marker.created) if matches else None


@dataclass(frozen=True)
class Node:
    """One node of the cluster: its id, name and roles."""

    id: str
    name: str
    roles: tuple[str, ...]


def cluster_nodes(client: "OpenSearch") -> tuple[str, frozenset, tuple[Node, ...]]:
    """The OpenSearch version, the plugins every node has, and the nodes (one request)."""
    info = client.nodes.info(metric="plugins", filter_path="nodes.*.version,nodes.*.name,nodes.*.roles,"
                                                          "nodes.*.plugins.name")
    found = info.get("nodes", {}) or {}
    plugins = [frozenset(p.get("name") for p in n.get("plugins", [])) for n in found.values()]
    versions = sorted({n.get("version", "unknown") for n in found.values()}) or ["unknown"]
    nodes = tuple(Node(nid, n.get("name", nid), tuple(n.get("roles", []))) for nid, n in sorted(found.items()))
    return versions[0], frozenset.intersection(*plugins) if plugins else frozenset(), nodes


def cluster_version(client: "OpenSearch") -> tuple[str, bool]:
    """The OpenSearch version and whether ``opensearch-ml`` is installed (one request)."""
    version, plugins, _nodes = cluster_nodes(client)
    return version, "opensearch-ml" in plugins


def cluster_uuid(client: "OpenSearch") -> str:
    """The cluster's UUID (journals written before node ids were recorded name their cluster by it)."""
    return str(client.info().get("cluster_uuid", ""))


def gather(client: "OpenSearch", blueprint_name: str, names: Names) -> Facts:
    """Read the cluster facts for one blueprint and its resource names."""
    with ThreadPoolExecutor(max_workers=6) as pool:  # independent reads: one round trip of latency
        version_f = pool.submit(cluster_nodes, client)
        settings_f = pool.submit(settings.read, client)
        # groups after settings: a run creates its group (with its settings record) before it writes settings, so
        # a settings change seen here always comes with the record that explains it
        groups_f = pool.submit(lambda: settings_f.result() and model_group.marked_or_named(client, names.model_group))
        connectors_f = pool.submit(connector.list_marked, client)
        version, plugins, nodes = version_f.result()
        if "opensearch-ml" not in plugins:
            raise ClusterError("the opensearch-ml plugin is not installed on this cluster",
                               hint="install ML Commons, or use: opensearch-llm local start")
        security = "opensearch-security" in plugins
        caller_f = pool.submit(whoami, client) if security else None  # no security plugin: no users to tell apart
        consumers_f = pool.submit(consumer_facts, client, blueprint_name, names.consumers)
        groups = groups_f.result()
        ours = owned("model_group", groups)
        group = _pick(ours, names.model_group, blueprint_name)
        # ML Commons refuses to delete a model group that has models, and our model goes into our group: without
        # a group of this blueprint, under any name, no model can be ours (a connector can: it is searched always)
        mine = any(g.marker.blueprint == blueprint_name for g in ours)
        conn_f = pool.submit(as_now, client, _pick(owned("connector", connectors_f.result()), names.connector,
                                                   blueprint_name))
        found_model = _pick(owned("model", model.list_marked(client)), names.model, blueprint_name) if mine else None
        model_f = pool.submit(as_now, client, found_model)
        same_name = next((g for g in groups if g.get("name") == names.model_group), None)
        foreign = same_name["id"] if group is None and same_name else None
        return Facts(
            version=version, ml_present=True, settings=settings_f.result(), model_group=group,
            connector=conn_f.result(), model=model_f.result(), foreign_group_id=foreign,
            security=security, caller=caller_f.result() if caller_f else None, plugins=plugins, nodes=nodes,
            consumers=consumers_f.result()[0], foreign_consumers=consumers_f.result()[1],
            forbidden_consumers=consumers_f.result()[2], groups=tuple(ours),
        )


def consumer_facts(client: "OpenSearch", blueprint_name: str,
                   steps: tuple) -> tuple[dict[str, Owned], dict[str, str], dict[str, str]]:
    """Our existing RAG/agent/ingest resources by step, the steps whose name another creator holds, and the
    steps the caller may not even look at (step → the permission refused)."""
    from opensearch_llm.blueprint.consumers import STEP_KINDS

    ours: dict[str, Owned] = {}
    foreign: dict[str, str] = {}
    forbidden: dict[str, str] = {}
    agents = owned("agent", agent.list_marked(client)) if any(s == "agent" for s, _ in steps) else []
    for step, name in steps:
        kind = STEP_KINDS[step]
        if kind == "agent":  # agent names are not unique: only ours count
            found = _pick(agents, name, blueprint_name)
            if found:
                ours[step] = found
            continue
        try:
            doc = {"search_pipeline": search_pipeline, "ingest_pipeline": ingest_pipeline, "index": index}[kind].get(
                client, name)
        except ClusterError as exc:
            if exc.status != 403:
                raise
            forbidden[step] = refused_permission(exc.message)
            continue
        if doc is None:
            continue
        marker = parse_marker(_description(kind, doc))
        if marker is None:
            foreign[step] = name
        else:
            ours[step] = Owned(kind, name, name, marker, doc)
    return ours, foreign, forbidden


def refused_permission(message: str) -> str:
    """The action a 403 of the security plugin names (``no permissions for [indices:admin/create] ...``)."""
    found = re.search(r"no permissions for \[([^\]]+)\]", message or "")
    return found.group(1) if found else "permission refused"


def _description(kind: str, doc: dict) -> Optional[str]:
    if kind == "index":
        return (doc.get("mappings", {}).get("_meta") or {}).get("opensearch-llm")
    return doc.get("description")


def as_now(client: "OpenSearch", found: Optional[Owned]) -> Optional[Owned]:
    """``found`` (a connector or model from a search) read again by id: None when it is gone."""
    # _search shows a write only after the next refresh (up to a second): a hand edit made a moment ago (Update
    # Connector, Update Model) would not show as drift, and a model deployed a moment ago would read DEPLOYING
    if found is None:
        return None
    doc = {"connector": connector.get, "model": model.get}[found.kind](client, found.id)
    return None if doc is None else Owned(found.kind, found.id, found.name, found.marker, {"id": found.id, **doc})


def fresh(client: "OpenSearch", found: Optional[Owned]) -> Optional[Owned]:
    """``found`` (a model from a search) as it is now: None when it is gone."""
    # _search is near-real-time: a model deployed a moment ago can still read DEPLOYING there, so any other
    # state is read again by id. DEPLOYED on every planned node is taken as found: it is at most one refresh
    # interval old, and the smoke probe that follows proves the model answers.
    if found is None or (found.doc.get("model_state") == "DEPLOYED" and not model.short_of_workers(found.doc)):
        return found
    return as_now(client, found)
