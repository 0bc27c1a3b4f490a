"""What the cluster holds that a plan depends on: version, ML plugin, settings, our resources."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, TYPE_CHECKING

from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.naming import Marker, Names, parse_marker
from opensearch_llm.resources import connector, model, model_group, settings
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
    cluster_uuid: str = ""
    security: bool = False  # the security plugin is installed
    caller: Optional[Principal] = None  # who we are, where the cluster authenticates users


def owned(kind: str, docs: list[dict]) -> list[Owned]:
    """Only documents whose description carries our exact marker."""
    out = []
    for doc in docs:
        marker = parse_marker(doc.get("description"))
        if marker:
            out.append(Owned(kind, doc["id"], doc.get("name", ""), marker, doc))
    return out


def all_owned(client: "OpenSearch") -> list[Owned]:
    """Every resource in the cluster that carries our ownership marker (models first: deletion order)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        lists = pool.map(lambda kind_lister: owned(kind_lister[0], kind_lister[1](client)),
                         [("model", model.list_marked), ("connector", connector.list_marked),
                          ("model_group", model_group.list_marked)])
        return [res for found in lists for res in found]


def all_of_run(client: "OpenSearch", run_id: str) -> list[Owned]:
    """Every resource carrying ``run_id`` in its ownership marker."""
    return [r for r in all_owned(client) if r.marker.run == run_id]


def _pick(items: list[Owned], name: str, blueprint: str) -> Optional[Owned]:
    matches = [o for o in items if o.name == name and o.marker.blueprint == blueprint]
    return max(matches, key=lambda o: o.marker.created) if matches else None


def node_plugins(client: "OpenSearch") -> tuple[str, frozenset]:
    """The OpenSearch version and the plugin names of the node answering (one request)."""
    info = client.nodes.info(node_id="_local", metric="plugins",
                             filter_path="nodes.*.version,nodes.*.plugins.name")
    node = next(iter(info.get("nodes", {}).values()), {})
    return node.get("version", "unknown"), frozenset(p.get("name") for p in node.get("plugins", []))


def cluster_version(client: "OpenSearch") -> tuple[str, bool]:
    """The OpenSearch version and whether ``opensearch-ml`` is installed (one request)."""
    version, plugins = node_plugins(client)
    return version, "opensearch-ml" in plugins


def cluster_uuid(client: "OpenSearch") -> str:
    """The cluster's UUID (journals record it, so a restore never touches another cluster)."""
    return str(client.info().get("cluster_uuid", ""))


def gather(client: "OpenSearch", blueprint_name: str, names: Names) -> Facts:
    """Read the cluster facts for one blueprint and its resource names."""
    with ThreadPoolExecutor(max_workers=6) as pool:  # independent reads: one round trip of latency
        version_f = pool.submit(node_plugins, client)
        uuid_f = pool.submit(cluster_uuid, client)
        caller_f = pool.submit(whoami, client)
        settings_f = pool.submit(settings.read, client)
        groups_f = pool.submit(model_group.list_marked, client)
        connectors_f = pool.submit(connector.list_marked, client)
        models_f = pool.submit(model.list_marked, client)
        version, plugins = version_f.result()
        ml_present = "opensearch-ml" in plugins
        if not ml_present:
            raise ClusterError("the opensearch-ml plugin is not installed on this cluster",
                               hint="install ML Commons, or use: opensearch-llm local start")
        same_name_f = pool.submit(model_group.find_by_name, client, names.model_group)
        group = _pick(owned("model_group", groups_f.result()), names.model_group, blueprint_name)
        found_model = _pick(owned("model", models_f.result()), names.model, blueprint_name)
        fresh_f = pool.submit(_fresh, client, found_model)
        same_name = same_name_f.result()
        foreign = same_name["id"] if group is None and same_name else None
        return Facts(
            version=version, ml_present=ml_present, settings=settings_f.result(), model_group=group,
            connector=_pick(owned("connector", connectors_f.result()), names.connector, blueprint_name),
            model=fresh_f.result(), foreign_group_id=foreign, cluster_uuid=uuid_f.result(),
            security="opensearch-security" in plugins, caller=caller_f.result(),
        )


def _fresh(client: "OpenSearch", found: Optional[Owned]) -> Optional[Owned]:
    # _search is near-real-time: a model deployed a moment ago can still read DEPLOYING there
    if found is None:
        return None
    doc = model.get(client, found.id)
    return None if doc is None else Owned(found.kind, found.id, found.name, found.marker, {"id": found.id, **doc})
