"""`opensearch-llm local start --nodes 3` and the `opensearch_cluster` fixture: a real 3-node cluster on loopback.

Each node is its own OpenSearch process; `_cat/nodes` must agree with what the launcher reports, a node
killed with SIGKILL must leave the cluster, and `start-node` / `start_node` must bring it back with its data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import requests

from opensearch_llm.local.process import instance_pids, pid_alive


def local(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opensearch_llm", "local", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ))


def cat_nodes(url: str) -> dict[str, str]:
    """``{name: node.roles}`` as the cluster itself lists its nodes."""
    rows = requests.get(f"{url}/_cat/nodes", params={"format": "json", "h": "name,node.roles"}, timeout=10).json()
    return {row["name"]: row["node.roles"] for row in rows}


def eventually(check: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return check()


def roles_agree(reported: list[dict], listed: dict[str, str]) -> None:
    assert sorted(listed) == sorted(n["name"] for n in reported)
    for node in reported:
        assert sorted(listed[node["name"]].split(",")) == sorted(node["roles"]), (node, listed)


def test_cli_three_nodes_status_kill_start_node_and_stop_leaves_no_process() -> None:
    name = f"clustertest-{os.getpid()}"
    began = time.monotonic()
    started = local("start", "--nodes", "3", "--name", name, "--json")
    took = time.monotonic() - began
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    sys.stderr.write(f"3-node cluster started in {took:.1f}s\n")
    try:
        url, nodes = info["url"], info["nodes"]
        assert [(n["name"], n["roles"]) for n in nodes] == [
            ("node-1", ["cluster_manager", "data", "ingest"]), ("node-2", ["ml"]), ("node-3", ["ml"])]
        assert url == nodes[0]["url"] and len({n["pid"] for n in nodes}) == 3
        assert len({p for n in nodes for p in (n["http_port"], n["transport_port"])}) == 6
        roles_agree(nodes, cat_nodes(url))
        plugins = requests.get(f"{url}/_cat/plugins", params={"format": "json"}, timeout=10).json()
        assert {(p["name"], p["component"]) for p in plugins} >= {(n["name"], "opensearch-ml") for n in nodes}

        status = json.loads(local("status", "--name", name, "--json").stdout)
        assert status["running"] is True
        assert [(n["name"], n["running"], n["in_cluster"]) for n in status["nodes"]] == [
            ("node-1", True, True), ("node-2", True, True), ("node-3", True, True)]
        assert json.loads(local("start", "--nodes", "3", "--name", name, "--json").stdout)["nodes"] == nodes

        killed = local("kill-node", "node-2", "--name", name)
        assert killed.returncode == 0, killed.stderr
        assert not pid_alive(nodes[1]["pid"])
        assert eventually(lambda: sorted(cat_nodes(url)) == ["node-1", "node-3"])
        status = json.loads(local("status", "--name", name, "--json").stdout)
        assert [(n["name"], n["running"], n["in_cluster"]) for n in status["nodes"]][1] == ("node-2", False, False)

        began = time.monotonic()
        back = local("start-node", "node-2", "--name", name, "--json")
        sys.stderr.write(f"node-2 rejoined in {time.monotonic() - began:.1f}s\n")
        assert back.returncode == 0, back.stderr
        again = json.loads(back.stdout)
        assert again["name"] == "node-2" and again["http_port"] == nodes[1]["http_port"] and again["pid"] != nodes[1]["pid"]
        roles_agree(nodes, cat_nodes(url))  # all three, at once: start-node waited until it had rejoined
        assert "node-2" in local("logs", "--name", name, "--node", "node-2").stdout
    finally:
        stopped = local("stop", "--name", name, "--purge")
    assert stopped.returncode == 0, stopped.stderr
    assert instance_pids(Path(info["dir"])) == [] and not any(pid_alive(n["pid"]) for n in info["nodes"])
    assert local("status", "--name", name).returncode == 1


def test_fixture_cluster_nodes_roles_and_a_node_that_leaves_and_returns(opensearch_cluster: Any) -> None:
    url = opensearch_cluster.url
    nodes = [n.to_dict() for n in opensearch_cluster.nodes]
    assert [(n["name"], n["roles"]) for n in nodes] == [
        ("node-1", ["cluster_manager", "data", "ingest"]), ("node-2", ["ml"]), ("node-3", ["ml"])]
    roles_agree(nodes, cat_nodes(url))
    try:
        assert opensearch_cluster.kill_node("node-3") is True
        assert eventually(lambda: sorted(cat_nodes(url)) == ["node-1", "node-2"])
        health = requests.get(f"{url}/_cluster/health", timeout=10).json()
        assert health["number_of_nodes"] == 2 and health["status"] in ("green", "yellow")
    finally:
        back = opensearch_cluster.start_node("node-3")
    assert back.name == "node-3" and back.pid != nodes[2]["pid"] and pid_alive(back.pid)
    roles_agree(nodes, cat_nodes(url))
    assert opensearch_cluster.nodes[2].pid == back.pid  # the state follows the restarted node
