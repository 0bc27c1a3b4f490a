"""A real multi-node OpenSearch + ML Commons cluster on loopback, one process per node, from Maven Central zips.

Each node has its own directory below ``<instance>/nodes/<node>`` (config, data, logs), its own HTTP
and transport port, and joins through ``discovery.seed_hosts`` (the cluster-manager-eligible nodes'
transport addresses). The instance's state is the same ``instance.json`` a single node has, with a
``nodes`` list; ``cluster.json`` keeps the node roles across a ``stop`` without ``--purge``.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

import requests

from opensearch_llm.errors import InvalidInputError, LocalNodeError, NodeStartError
from opensearch_llm.local import artifacts, config, process, security
from opensearch_llm.local.java import Jdk, find_jdk
from opensearch_llm.local.node import CLUSTER_NODES_DIR, LocalNode, describe, log_tail, node_java_home, wait_until
from opensearch_llm.paths import instances_dir
from opensearch_llm.local.state import REQUIRED_PLUGINS, NodeInfo, read_state, write_state
from opensearch_llm.local.topology import ClusterNode, RolesArg, node_name, node_settings, parse_roles, plan_nodes
from opensearch_llm.local.versions import resolve

LAYOUT_FILE = "cluster.json"
DEFAULT_HEAP = "512m"  # per node: three nodes fit beside other work on 2 cores and 24 GiB


def default_timeout(nodes: int) -> float:
    """Seconds to wait for ``nodes`` nodes to start and join: 180, plus 60 per node beyond the first."""
    return 180.0 + 60.0 * (nodes - 1)


def recorded_roles(name: str, env: Optional[Mapping[str, str]] = None) -> Optional[list[tuple[str, ...]]]:
    """The node roles of instance ``name`` when it holds a cluster (running, or stopped without --purge)."""
    layout = instances_dir(env) / name / LAYOUT_FILE
    try:
        return [tuple(r) for r in json.loads(layout.read_text())["roles"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def cluster_ready(url: str, expect: Sequence[str], timeout: float = 2.0) -> bool:
    """True when the cluster behind ``url`` is yellow or green with at least ``len(expect)`` nodes, and
    every node named in ``expect`` is a member with ML Commons and the job scheduler loaded."""
    try:
        health = requests.get(f"{url}/_cluster/health", timeout=timeout, params={
            "wait_for_nodes": f">={len(expect)}", "wait_for_status": "yellow", "timeout": "1s"})
        plugins = requests.get(f"{url}/_cat/plugins", params={"format": "json", "h": "name,component"},
                               timeout=timeout)
        if not (health.ok and plugins.ok):
            return False
        state, loaded = health.json(), plugins.json()
    except (requests.RequestException, ValueError):
        return False
    if not isinstance(state, dict) or state.get("timed_out") or not isinstance(loaded, list):
        return False
    by_node: dict[str, set] = {}
    for row in loaded:
        if isinstance(row, dict):
            by_node.setdefault(str(row.get("name")), set()).add(row.get("component"))
    return all(set(REQUIRED_PLUGINS) <= by_node.get(name, set()) for name in expect)


def nodes_of(info: Optional[NodeInfo]) -> list[ClusterNode]:
    """The nodes recorded in a cluster instance's state (none for a single node)."""
    return [ClusterNode.from_dict(n) for n in (info.nodes or [])] if info else []


def node_running(node: ClusterNode) -> bool:
    """True when a process of ``node`` runs (found by its directory, never by a recorded pid that may be reused)."""
    return bool(process.instance_pids(Path(node.dir)))


def members(urls: Sequence[str], timeout: float = 2.0) -> Optional[dict[str, str]]:
    """``{node name: role letters}`` as ``_cat/nodes`` of the first of ``urls`` that answers says; else None."""
    for url in urls:
        try:
            resp = requests.get(f"{url}/_cat/nodes", params={"format": "json", "h": "name,node.role"},
                                timeout=timeout)
            if resp.ok:
                return {str(row.get("name")): str(row.get("node.role")) for row in resp.json()}
        except (requests.RequestException, ValueError, AttributeError):
            continue
    return None


class LocalCluster:
    """Start, inspect, fault and stop one named multi-node local instance; usable as a context manager.

    :param version: ``2.19`` (default line), ``3``, or an exact version.
    :param nodes: how many nodes (default: one per ``roles`` entry, else 3).
    :param roles: one entry per node, ``"cluster_manager,data"`` or a sequence of role names
        (``coordinating`` alone: none); default node 1 cluster_manager+data+ingest, the others ``ml``.
    :param port: the first node's HTTP port (the cluster URL); None picks a free one.
    :param heap: JVM heap of each node.
    :param ready_timeout: seconds to wait for every node to join (default :func:`default_timeout`).
    """

    def __init__(self, version: Optional[str] = None, *, nodes: Optional[int] = None,
                 roles: Optional[RolesArg] = None, port: Optional[int] = None, name: str = "default",
                 heap: str = DEFAULT_HEAP, ready_timeout: Optional[float] = None,
                 env: Optional[Mapping[str, str]] = None, progress: Callable[[str], None] = lambda _m: None,
                 purge_on_exit: bool = True) -> None:
        self.version, self.line = resolve(version)
        self.roles = parse_roles(roles, nodes if nodes is not None or roles else 3)
        self.port, self.name, self.heap, self.progress = port, name, heap, progress
        self.ready_timeout = ready_timeout if ready_timeout is not None else default_timeout(len(self.roles))
        self.env = dict(os.environ if env is None else env)
        self.purge_on_exit = purge_on_exit
        self.dir = instances_dir(self.env) / name
        self.info: Optional[NodeInfo] = None

    @property
    def url(self) -> str:
        """The cluster URL: the first node's HTTP address."""
        info = self.info or read_state(self.name, self.env)
        if not info or not info.nodes:
            raise LocalNodeError(f"local cluster {self.name!r} is not running")
        return info.url

    @property
    def nodes(self) -> list[ClusterNode]:
        """Every node of the cluster as recorded (name, roles, ports, pid, dir)."""
        return nodes_of(read_state(self.name, self.env))

    def __enter__(self) -> "LocalCluster":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop(purge=self.purge_on_exit)

    def start(self) -> NodeInfo:
        """Start the cluster and wait until every node has joined; idempotent (starts only missing nodes)."""
        existing = read_state(self.name, self.env)
        if existing and any(node_running(n) for n in nodes_of(existing)):
            return self._resume(existing)
        if existing and process.pid_alive(existing.pid):
            raise LocalNodeError(f"local instance {self.name!r} already runs {describe(existing)}",
                                 hint=f"stop it first (opensearch-llm local stop --name {self.name}) or use --name")
        self._check_instance_fits()
        process.terminate(process.instance_pids(self.dir))
        if self.port:
            process.check_port_free(self.port)
        jdk = find_jdk(self.line, self.env)
        self.info = self._launch(artifacts.install(self.version, jdk, self.env, self.progress), jdk)
        write_state(self.info)
        return self.info

    def _launch(self, home: Path, jdk: Jdk) -> NodeInfo:
        java_home = node_java_home(jdk, self.env)
        nodes = plan_nodes(self.dir, self.roles, self.heap, self.port)
        (self.dir / CLUSTER_NODES_DIR).mkdir(parents=True, exist_ok=True)
        (self.dir / LAYOUT_FILE).write_text(json.dumps({"version": self.version, "roles": self.roles}))
        for node in nodes:
            config.write_config(home, Path(node.dir), node_settings(self.name, nodes, node))
        user_kwargs = process.run_as(self.dir)
        self.progress(f"starting {len(nodes)} nodes of OpenSearch {self.version} on Java {jdk.major}: "
                      + ", ".join(f"{n.name} [{','.join(n.roles) or 'coordinating'}]" for n in nodes))
        procs = {n.name: self._spawn(home, java_home, n, user_kwargs) for n in nodes}
        nodes = [replace(n, pid=procs[n.name].pid) for n in nodes]
        try:
            self._wait_joined(procs, nodes, nodes[0].url, [n.name for n in nodes])
        except BaseException:
            process.terminate(process.instance_pids(self.dir))
            raise
        return NodeInfo(name=self.name, url=nodes[0].url, version=self.version, pid=int(nodes[0].pid or 0),
                        java=str(jdk.major), java_home=java_home, dir=str(self.dir), home=str(home),
                        nodes=[n.to_dict() for n in nodes])

    def _check_instance_fits(self) -> None:
        if (self.dir / "config").exists() or security.files_for(self.dir).dir.exists():
            raise LocalNodeError(f"instance {self.name!r} belongs to a single node",
                                 hint=f"use another --name, or delete it: opensearch-llm local stop --name {self.name} --purge")
        recorded = recorded_roles(self.name, self.env)
        if recorded is not None and recorded != self.roles:
            raise LocalNodeError(
                f"instance {self.name!r} holds a cluster with other nodes ({_roles_text(recorded)}) whose data "
                f"would not fit {_roles_text(self.roles)}",
                hint=f"start it as it was (opensearch-llm local start --name {self.name}), use another --name, "
                     f"or delete it: opensearch-llm local stop --name {self.name} --purge")

    def _resume(self, existing: NodeInfo) -> NodeInfo:
        recorded = [tuple(n.roles) for n in nodes_of(existing)]
        if existing.version != self.version or recorded != self.roles:
            raise LocalNodeError(f"local instance {self.name!r} already runs {describe(existing)} "
                                 f"({_roles_text(recorded)})",
                                 hint=f"stop it first (opensearch-llm local stop --name {self.name}) or use --name")
        for node in nodes_of(existing):
            if not node_running(node):
                self.start_node(node.name)
        info = read_state(self.name, self.env) or existing
        names = [n.name for n in nodes_of(info)]
        if wait_until(lambda: True if cluster_ready(info.url, names) else None, self.ready_timeout) is None:
            raise NodeStartError(f"local cluster {self.name!r} runs but is not ready within {self.ready_timeout:.0f}s",
                                 log_tail=self.log_tail())
        self.info = info
        return info

    def _spawn(self, home: Path, java_home: str, node: ClusterNode, user_kwargs: dict) -> subprocess.Popen:
        node_dir = Path(node.dir)
        env = config.node_env(java_home, node_dir / "config", node_dir, node.heap, self.env.get("PATH", "/usr/bin:/bin"))
        return process.spawn(home, node_dir, env, user_kwargs)

    def _wait_joined(self, procs: Mapping[str, subprocess.Popen], nodes: Sequence[ClusterNode], url: str,
                     expect: Sequence[str], timeout: Optional[float] = None) -> None:
        timeout = self.ready_timeout if timeout is None else timeout

        def probe() -> Optional[bool]:
            for node in nodes:
                proc = procs.get(node.name)
                if proc is not None and proc.poll() is not None:
                    raise NodeStartError(f"{node.name} of local cluster {self.name!r} exited with code "
                                         f"{proc.returncode} during start", log_tail=self.log_tail(node.name))
            return True if cluster_ready(url, expect) else None

        if wait_until(probe, timeout) is None:
            seen = members([url]) or {}
            missing = [n for n in expect if n not in seen]
            raise NodeStartError(
                f"local cluster {self.name!r} (OpenSearch {self.version}) was not ready within {timeout:.0f}s"
                + (f": {', '.join(missing)} did not join" if missing else ""),
                log_tail=self.log_tail(missing[0] if missing else nodes[0].name), hint="see the log lines above")

    def _node(self, name: str) -> tuple[NodeInfo, ClusterNode]:
        info = read_state(self.name, self.env)
        if not info or not info.nodes:
            raise LocalNodeError(f"local instance {self.name!r} is not a running multi-node cluster",
                                 hint=f"start one: opensearch-llm local start --nodes 3 --name {self.name}")
        for node in nodes_of(info):
            if node.name == name:
                return info, node
        raise InvalidInputError(f"local cluster {self.name!r} has no node {name!r}",
                                hint=f"its nodes: {', '.join(n.name for n in nodes_of(info))}")

    def kill_node(self, name: str) -> bool:
        """SIGKILL node ``name`` (a crash: no shutdown at all); True if it was running."""
        _info, node = self._node(name)
        pids = process.instance_pids(Path(node.dir))
        left = process.kill(pids)
        if left:
            raise LocalNodeError(f"could not kill {name} of local cluster {self.name!r}: pids {left} still alive")
        return bool(pids)

    def start_node(self, name: str, timeout: Optional[float] = None) -> ClusterNode:
        """Start node ``name`` again with its own config and data, and wait until it has rejoined the cluster.

        Idempotent: a node that runs is returned as it is.
        """
        info, node = self._node(name)
        if node_running(node):
            return node
        proc = self._spawn(Path(info.home), info.java_home, node, process.run_as(Path(node.dir)))
        node = replace(node, pid=proc.pid)
        up = [n.name for n in nodes_of(info) if n.name == name or node_running(n)]
        self.progress(f"starting {name} of local cluster {self.name!r}; waiting for {len(up)} nodes")
        try:
            self._wait_joined({name: proc}, [node], node.url, up, timeout or default_timeout(1))
        except BaseException:
            process.terminate(process.instance_pids(Path(node.dir)))
            raise
        nodes = [node if n.name == name else n for n in nodes_of(info)]
        self.info = replace(info, pid=int(nodes[0].pid or 0), nodes=[n.to_dict() for n in nodes])
        write_state(self.info)
        return node

    def status(self) -> dict:
        """The instance as ``local status --json`` shows it: ``running`` (the cluster URL answers) and every node
        with ``running`` (its process is alive) and ``in_cluster`` (``_cat/nodes`` lists it)."""
        info = read_state(self.name, self.env)
        if not info or not info.nodes:
            return {"running": False, "name": self.name}
        nodes = nodes_of(info)
        alive = {n.name: node_running(n) for n in nodes}
        seen = members([n.url for n in nodes if alive[n.name]]) or {}
        listed = [{**n.to_dict(), "running": alive[n.name], "in_cluster": n.name in seen} for n in nodes]
        ready = alive[nodes[0].name] and cluster_ready(info.url, [nodes[0].name])
        return {**info.to_dict(), "running": ready, "nodes": listed}

    def stop(self, purge: bool = False) -> bool:
        """Stop every node of the cluster; True if one was running. ``purge`` deletes the instance's dir."""
        self.info = None
        return LocalNode(name=self.name, env=self.env).stop(purge=purge)

    def log_tail(self, node: Optional[str] = None, lines: int = 50) -> str:
        """The last ``lines`` lines of node ``node``'s main log (default: the first node's)."""
        return log_tail(self.dir / CLUSTER_NODES_DIR / (node or node_name(1)), self.name, lines)


def _roles_text(roles: Sequence[Sequence[str]]) -> str:
    return " | ".join(",".join(r) or "coordinating" for r in roles)
