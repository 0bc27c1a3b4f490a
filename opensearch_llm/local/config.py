"""Per-instance configuration: opensearch.yml, jvm.options with absolute paths, environment."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Mapping, Sequence

# Settings every local node gets. Trusted endpoints and private IPs are deliberately left at
# ML Commons' defaults: setting exactly what a blueprint needs is the toolkit's job, and
# tests must prove it does.
ML_SETTINGS = {
    "plugins.ml_commons.only_run_on_ml_node": "false",
    "plugins.ml_commons.jvm_heap_memory_threshold": "100",
    "plugins.ml_commons.native_memory_threshold": "100",
    "plugins.ml_commons.disk_free_space_threshold": "0",
}


def node_settings(cluster: str, node: str, instance: Path, http_port: int, transport_port: int = 0) -> dict[str, str]:
    """What every local node's opensearch.yml says: loopback, ports, paths, test defaults, ML settings.

    :param cluster: the instance name (the cluster is ``opensearch-llm-<cluster>``).
    :param instance: the node's own directory (data/, logs/ and config/ live below it).
    """
    return {
        "cluster.name": f"opensearch-llm-{cluster}",
        "node.name": node,
        "network.host": "127.0.0.1",
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        "node.portsfile": "true",
        "path.data": str(instance / "data"),
        "path.logs": str(instance / "logs"),
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "indices.breaker.total.use_real_memory": "false",
        "discovery.initial_state_timeout": "0s",
        "action.auto_create_index": "true",
        **ML_SETTINGS,
    }


def single_node_settings(name: str, instance: Path, port: int) -> dict[str, str]:
    """The settings of a single-node loopback instance (``discovery.type: single-node``)."""
    return {**node_settings(name, f"{name}-node", instance, port), "discovery.type": "single-node"}


def cluster_node_settings(cluster: str, node: str, instance: Path, http_port: int, transport_port: int, *,
                          roles: Sequence[str], seed_hosts: Sequence[str],
                          initial_managers: Sequence[str]) -> dict[str, str]:
    """The settings of one node of a multi-node loopback cluster (zen discovery over loopback).

    :param roles: ``node.roles``; empty means a coordinating-only node.
    :param seed_hosts: transport addresses (``127.0.0.1:port``) of the cluster-manager-eligible nodes.
    :param initial_managers: node names that bootstrap the first election (ignored once the cluster has formed).
    """
    return {
        **node_settings(cluster, node, instance, http_port, transport_port),
        "node.roles": _yaml_list(roles),
        "discovery.seed_hosts": _yaml_list(seed_hosts),
        "cluster.initial_cluster_manager_nodes": _yaml_list(initial_managers),
    }


def _yaml_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def opensearch_yml(settings: Mapping[str, str]) -> str:
    """Render ``settings`` as opensearch.yml (values are YAML scalars or flow lists already)."""
    return "".join(f"{k}: {v}\n" for k, v in settings.items())


def write_config(home: Path, instance: Path, settings: Mapping[str, str]) -> Path:
    """Create ``instance``/config from the distribution's config with ``settings``; return it."""
    conf = instance / "config"
    if conf.exists():
        shutil.rmtree(conf)
    shutil.copytree(home / "config", conf)
    for sub in ("data", "logs", "tmp"):
        (instance / sub).mkdir(parents=True, exist_ok=True)
    (conf / "opensearch.yml").write_text(opensearch_yml(settings))
    jvm = conf / "jvm.options"
    text = jvm.read_text()
    # the shipped jvm.options writes gc logs, heap dumps and error files relative to
    # OPENSEARCH_HOME, which the unprivileged user may not write to
    text = re.sub(r"(?<=[=:])logs/", f"{instance}/logs/", text)
    text = text.replace("HeapDumpPath=data", f"HeapDumpPath={instance}/data")
    jvm.write_text(text)
    return conf


def node_env(java_home: str, conf: Path, instance: Path, heap: str, path: str) -> dict[str, str]:
    """The environment bin/opensearch runs with (nothing inherited that could change it)."""
    return {
        "PATH": path,
        "HOME": str(instance),
        "OPENSEARCH_JAVA_HOME": java_home,
        "OPENSEARCH_PATH_CONF": str(conf),
        "OPENSEARCH_TMPDIR": str(instance / "tmp"),
        "OPENSEARCH_JAVA_OPTS": f"-Xms{heap} -Xmx{heap}",
        "LANG": "C.UTF-8",
    }
