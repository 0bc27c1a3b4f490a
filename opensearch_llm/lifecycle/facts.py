"""What the cluster holds that a plan depends on: version, ML plugin, settings, our resources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle.naming import Marker, Names, parse_marker
from opensearch_llm.resources import connector, model, model_group, settings


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


def owned(kind: str, docs: list[dict]) -> list[Owned]:
    """Only documents whose description carries our exact marker."""
    out = []
    for doc in docs:
        marker = parse_marker(doc.get("description"))
        if marker:
            out.append(Owned(kind, doc["id"], doc.get("name", ""), marker, doc))
    return out


def all_owned(client: Any) -> list[Owned]:
    """Every resource in the cluster that carries our ownership marker (models first: deletion order)."""
    return [*owned("model", model.list_marked(client)), *owned("connector", connector.list_marked(client)),
            *owned("model_group", model_group.list_marked(client))]


def all_of_run(client: Any, run_id: str) -> list[Owned]:
    """Every resource carrying ``run_id`` in its ownership marker."""
    return [r for r in all_owned(client) if r.marker.run == run_id]


def _pick(items: list[Owned], name: str, blueprint: str) -> Optional[Owned]:
    matches = [o for o in items if o.name == name and o.marker.blueprint == blueprint]
    return max(matches, key=lambda o: o.marker.created) if matches else None


def cluster_version(client: Any) -> tuple[str, bool]:
    """The OpenSearch version and whether ``opensearch-ml`` is installed."""
    info = client.info()
    plugins = client.cat.plugins(format="json")
    return info["version"]["number"], any(p.get("component") == "opensearch-ml" for p in plugins)


def gather(client: Any, blueprint_name: str, names: Names) -> Facts:
    """Read the cluster facts for one blueprint and its resource names."""
    version, ml_present = cluster_version(client)
    if not ml_present:
        raise ClusterError("the opensearch-ml plugin is not installed on this cluster",
                           hint="install ML Commons, or use: opensearch-llm local start")
    group = _pick(owned("model_group", model_group.list_marked(client)), names.model_group, blueprint_name)
    foreign = None
    if group is None:
        same_name = model_group.find_by_name(client, names.model_group)
        foreign = same_name["id"] if same_name else None
    return Facts(
        version=version, ml_present=ml_present, settings=settings.read(client),
        model_group=group,
        connector=_pick(owned("connector", connector.list_marked(client)), names.connector, blueprint_name),
        model=_fresh(client, _pick(owned("model", model.list_marked(client)), names.model, blueprint_name)),
        foreign_group_id=foreign,
    )


def _fresh(client: Any, found: Optional[Owned]) -> Optional[Owned]:
    # _search is near-real-time: a model deployed a moment ago can still read DEPLOYING there
    if found is None:
        return None
    doc = model.get(client, found.id)
    return None if doc is None else Owned(found.kind, found.id, found.name, found.marker, {"id": found.id, **doc})
