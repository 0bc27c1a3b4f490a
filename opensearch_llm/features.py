"""Which consumers of a remote model a cluster supports: RAG search pipelines, agents, conversation memory,
the ``ml_inference`` ingest processor and k-NN.

Read from what ``doctor`` fetches anyway: the ``GET _nodes`` answer (each node's ``plugins``, ``ingest.processors``
and ``search_pipelines.response_processors``; a feature counts when every node lists it), the cluster settings
(defaults included) and the ML Commons version.  Real lists are preferred over version guesses; only agents and
conversation memory, which have no list to read, go by the version (2.12+) and their switch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

RAG_ENABLED = "plugins.ml_commons.rag_pipeline_feature_enabled"
AGENTS_ENABLED = "plugins.ml_commons.agent_framework_enabled"
MEMORY_ENABLED = "plugins.ml_commons.memory_feature_enabled"
AGENTS_SINCE = (2, 12)        # agents and conversation memory are generally available from ML Commons 2.12


@dataclass(frozen=True)
class Feature:
    """A consumer of remote models: whether the cluster supports it, and what that was read from."""

    name: str
    supported: bool
    detail: str

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def _listed(node: Mapping[str, Any], path: str, name: str) -> bool:
    """True when the list at ``path`` (``plugins``, ``ingest.processors``) of a ``GET _nodes`` node names ``name``."""
    section, _, kind = path.partition(".")
    entries = (node.get(section) or {}).get(kind) if kind else node.get(section)
    return any(name in (entry.get("name"), entry.get("type")) for entry in entries or ())


def cluster_features(ml_version: tuple[int, int], settings: Mapping[str, Any],
                     nodes: Mapping[str, Any]) -> list[Feature]:
    """Which consumers the cluster supports: processors and plugins every node lists, ML Commons settings.

    :param ml_version: ``(major, minor)`` of the installed ML Commons (its lowest, when nodes differ)
    :param settings: the cluster settings, flat, defaults included
    :param nodes: ``GET _nodes`` ``nodes`` (each node's ``plugins``, ``ingest`` and ``search_pipelines``)
    """
    def on_every_node(what: str, path: str, name: str) -> tuple[bool, str]:
        count = sum(_listed(node, path, name) for node in nodes.values())
        return bool(nodes) and count == len(nodes), f"{what} on {count} of {len(nodes)} node(s)"

    def switched(name: str, key: str, ok: bool, detail: str) -> Feature:
        """Supported when ``ok`` and ``key`` is not false (an unlisted switch counts as on, its default)."""
        value = str(settings.get(key, "true")).lower()
        return Feature(name, ok and value != "false", f"{detail}, {key} = {value}" if ok else detail)

    ml = f"ML Commons {ml_version[0]}.{ml_version[1]}"
    rag = on_every_node("retrieval_augmented_generation response processor", "search_pipelines.response_processors",
                        "retrieval_augmented_generation")
    ingest = on_every_node("ml_inference ingest processor", "ingest.processors", "ml_inference")
    knn = on_every_node("opensearch-knn", "plugins", "opensearch-knn")
    recent = ml_version >= AGENTS_SINCE
    since = "" if recent else f" (needs {AGENTS_SINCE[0]}.{AGENTS_SINCE[1]}+)"
    return [
        switched("RAG search pipelines", RAG_ENABLED, *rag),
        switched("agents", AGENTS_ENABLED, recent, ml + since),
        switched("conversation memory", MEMORY_ENABLED, recent, ml + since),
        Feature("ml_inference ingest processor", *ingest),
        Feature("k-NN", *knn),
    ]
