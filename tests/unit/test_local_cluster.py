"""`local start --nodes N` without a JVM: roles, per-node config, ports, state, process handling and the CLI."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from opensearch_llm.errors import InvalidInputError, LocalNodeError
from opensearch_llm.local import cluster as cluster_mod
from opensearch_llm.local import config, process
from opensearch_llm.local.cluster import LocalCluster, cluster_ready
from opensearch_llm.local.node import LocalNode
from opensearch_llm.local.state import NodeInfo, write_state
from opensearch_llm.local.topology import PORT_RANGE, ClusterNode, node_settings, parse_roles, plan_nodes
from tests.helpers import run_cli as run

CM = ("cluster_manager", "data", "ingest")


@pytest.fixture(autouse=True)
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Instances live in a temporary runtime dir: nothing of a real instance is read or touched."""
    monkeypatch.setenv("OPENSEARCH_LLM_RUNTIME_DIR", str(tmp_path / "rt"))
    return tmp_path / "rt"


# --- roles -------------------------------------------------------------------------------------------------


def test_default_roles_are_one_manager_and_ml_nodes() -> None:
    assert parse_roles(None, 3) == [CM, ("ml",), ("ml",)]
    assert parse_roles([], 1) == [CM]


def test_roles_one_entry_per_node_strings_or_sequences() -> None:
    assert parse_roles(["cluster_manager, data", "data,ML,ml", ("ml",), "coordinating"], None) == [
        ("cluster_manager", "data"), ("data", "ml"), ("ml",), ()]
    assert parse_roles(["cluster_manager,data,ml"], 1) == [("cluster_manager", "data", "ml")]


@pytest.mark.parametrize("roles, nodes, fragment", [
    (["ml", "ml"], None, "no node has the cluster_manager role"),
    (["cluster_manager", "ml"], None, "no node has the data role"),
    (["cluster_manager,data", "gpu"], None, "node 2: unknown role 'gpu'"),
    (["master,data"], None, "deprecated name (use cluster_manager)"),
    (["cluster_manager,data", "ml"], 3, "--roles was given 2 time(s) for 3 node(s)"),
    (["cluster_manager,data", "coordinating,ml"], None, "coordinating alone"),
    (["cluster_manager,data", " , "], None, "node 2: no roles"),
    (None, 0, "--nodes must be at least 1"),
])
def test_bad_roles_are_invalid_input_naming_the_problem(roles: Any, nodes: Any, fragment: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_roles(roles, nodes)
    assert fragment in str(info.value)
    assert info.value.exit_code == 2


# --- per-node configuration --------------------------------------------------------------------------------


def _yml(settings: dict) -> dict:
    return yaml.safe_load(config.opensearch_yml(settings))


def test_cluster_nodes_discover_the_manager_eligible_nodes_and_have_their_own_ports_and_dirs(tmp_path: Path) -> None:
    nodes = plan_nodes(tmp_path / "mn", [CM, ("ml",), ("cluster_manager",)], "512m", port=None,
                       rng=random.Random(7))
    ports = [p for n in nodes for p in (n.http_port, n.transport_port)]
    assert len(set(ports)) == 6 and all(PORT_RANGE[0] <= p < PORT_RANGE[1] for p in ports)
    assert [n.name for n in nodes] == ["node-1", "node-2", "node-3"]
    assert [Path(n.dir) for n in nodes] == [tmp_path / "mn" / "nodes" / f"node-{i}" for i in (1, 2, 3)]
    ml = _yml(node_settings("mn", nodes, nodes[1]))
    assert ml["node.roles"] == ["ml"]
    assert ml["discovery.seed_hosts"] == [f"127.0.0.1:{nodes[0].transport_port}", f"127.0.0.1:{nodes[2].transport_port}"]
    assert ml["cluster.initial_cluster_manager_nodes"] == ["node-1", "node-3"]
    assert "discovery.type" not in ml
    assert ml["cluster.name"] == "opensearch-llm-mn" and ml["node.name"] == "node-2"
    assert (ml["http.port"], ml["transport.port"]) == (nodes[1].http_port, nodes[1].transport_port)
    assert ml["path.data"] == str(tmp_path / "mn" / "nodes" / "node-2" / "data")
    for key, value in config.ML_SETTINGS.items():  # every node gets the ML Commons settings
        assert str(ml[key]).lower() == value


def test_first_node_port_is_the_requested_one_and_a_coordinating_node_has_no_roles(tmp_path: Path) -> None:
    nodes = plan_nodes(tmp_path, [CM, ()], "1g", port=9250)
    assert nodes[0].http_port == 9250 and nodes[0].url == "http://127.0.0.1:9250"
    assert 9250 not in (nodes[0].transport_port, nodes[1].http_port, nodes[1].transport_port)
    assert _yml(node_settings("x", nodes, nodes[1]))["node.roles"] == []
    assert nodes[1].heap == "1g"


def test_single_node_settings_are_as_before(tmp_path: Path) -> None:
    single = _yml(config.single_node_settings("solo", tmp_path, 0))
    assert single["discovery.type"] == "single-node" and single["node.name"] == "solo-node"
    assert single["http.port"] == 0 and single["transport.port"] == 0
    assert not {"node.roles", "discovery.seed_hosts", "cluster.initial_cluster_manager_nodes"} & set(single)


def test_write_config_gives_each_node_its_own_config_and_absolute_log_paths(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "jvm.options").write_text("-Xlog:gc*:file=logs/gc.log\n-XX:HeapDumpPath=data\n")
    nodes = plan_nodes(tmp_path / "mn", [CM, ("ml",)], "512m")
    for node in nodes:
        conf = config.write_config(home, Path(node.dir), node_settings("mn", nodes, node))
        assert yaml.safe_load((conf / "opensearch.yml").read_text())["node.name"] == node.name
        assert f"file={node.dir}/logs/gc.log" in (conf / "jvm.options").read_text()
        assert all((Path(node.dir) / sub).is_dir() for sub in ("data", "logs", "tmp"))


# --- processes and state -----------------------------------------------------------------------------------


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[Any]:
    """Start stand-in node processes whose command line names a node dir, as a real node's does."""
    procs: list = []

    def start(node_dir: Path) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", f"{node_dir}/config"])
        procs.append(proc)
        deadline = time.monotonic() + 10
        while proc.pid not in process.pids_matching(f"{node_dir}/config") and time.monotonic() < deadline:
            time.sleep(0.01)  # until the child has exec'd: before that its command line is ours
        return proc

    yield start
    for proc in procs:
        proc.kill()
        proc.wait()


def _record_cluster(runtime: Path, name: str, pids: list) -> NodeInfo:
    nodes = plan_nodes(runtime / "instances" / name, [CM, ("ml",), ("ml",)][: len(pids)], "512m")
    nodes = [ClusterNode(**{**n.to_dict(), "pid": pid}) for n, pid in zip(nodes, pids)]
    info = NodeInfo(name=name, url=nodes[0].url, version="2.19.6", pid=pids[0], java="17", java_home="/jdk",
                    dir=str(runtime / "instances" / name), home="/home", nodes=[n.to_dict() for n in nodes])
    Path(info.dir).mkdir(parents=True)
    write_state(info)
    return info


def test_instance_pids_match_the_instance_and_its_nodes_only(tmp_path: Path, sleeper: Any) -> None:
    node = sleeper(tmp_path / "instances" / "mn" / "nodes" / "node-1")
    other = sleeper(tmp_path / "instances" / "mn2" / "config")
    assert process.instance_pids(tmp_path / "instances" / "mn") == [node.pid]
    assert process.instance_pids(tmp_path / "instances" / "mn" / "nodes" / "node-1") == [node.pid]
    assert process.kill([node.pid]) == [] and node.wait(5) == -9
    assert process.pid_alive(other.pid)


def test_kill_node_sigkills_just_that_node_and_stop_ends_every_node(runtime: Path, sleeper: Any) -> None:
    base = runtime / "instances" / "mn" / "nodes"
    procs = [sleeper(base / f"node-{i}") for i in (1, 2, 3)]
    _record_cluster(runtime, "mn", [p.pid for p in procs])
    cluster = LocalCluster(name="mn")
    assert [n.name for n in cluster.nodes] == ["node-1", "node-2", "node-3"]
    assert cluster.kill_node("node-2") is True
    assert procs[1].wait(5) == -9 and procs[0].poll() is None and procs[2].poll() is None
    assert cluster.kill_node("node-2") is False
    with pytest.raises(InvalidInputError, match="no node 'node-9'.*node-1, node-2, node-3"):
        cluster.kill_node("node-9")
    assert LocalNode(name="mn").stop(purge=True) is True  # `local stop` stops a cluster's nodes too
    assert procs[0].wait(25) is not None and procs[2].wait(25) is not None
    assert not (runtime / "instances" / "mn").exists()


def test_start_node_of_a_running_node_is_a_no_op(runtime: Path, sleeper: Any) -> None:
    proc = sleeper(runtime / "instances" / "mn" / "nodes" / "node-1")
    _record_cluster(runtime, "mn", [proc.pid])
    assert LocalCluster(name="mn").start_node("node-1").pid == proc.pid


def test_single_node_output_has_no_nodes_and_a_cluster_instance_is_no_single_node(runtime: Path) -> None:
    info = NodeInfo(name="a", url="u", version="2.19.6", pid=1, java="17", java_home="/j", dir="/d", home="/h")
    assert "nodes" not in info.to_dict()
    (runtime / "instances" / "mn" / "nodes").mkdir(parents=True)
    with pytest.raises(LocalNodeError, match="belongs to a multi-node cluster"):
        LocalNode(name="mn").start()


def test_a_cluster_with_other_roles_is_refused_before_anything_starts(runtime: Path) -> None:
    (runtime / "instances" / "mn").mkdir(parents=True)
    (runtime / "instances" / "mn" / "cluster.json").write_text(json.dumps({"roles": [list(CM), ["ml"]]}))
    with pytest.raises(LocalNodeError, match="holds a cluster with other nodes"):
        LocalCluster(name="mn", nodes=3).start()
    (runtime / "instances" / "solo" / "config").mkdir(parents=True)
    with pytest.raises(LocalNodeError, match="belongs to a single node"):
        LocalCluster(name="solo").start()


class _Resp:
    def __init__(self, body: Any, status: int = 200) -> None:
        self.body, self.status_code, self.ok = body, status, status < 400

    def json(self) -> Any:
        return self.body


@pytest.mark.parametrize("health, plugins, ready", [
    ({"status": "green", "timed_out": False}, ["node-1", "node-2"], True),
    ({"status": "yellow", "timed_out": True}, ["node-1", "node-2"], False),
    ({"status": "green", "timed_out": False}, ["node-1"], False),
])
def test_cluster_ready_needs_every_node_with_ml_commons(monkeypatch: pytest.MonkeyPatch, health: dict,
                                                       plugins: list, ready: bool) -> None:
    calls: list = []

    def get(url: str, **kwargs: Any) -> _Resp:
        calls.append((url, kwargs.get("params")))
        if url.endswith("/_cluster/health"):
            return _Resp(health)
        return _Resp([{"name": n, "component": c} for n in plugins for c in ("opensearch-ml", "opensearch-job-scheduler")])

    monkeypatch.setattr(cluster_mod.requests, "get", get)
    assert cluster_ready("http://x", ["node-1", "node-2"]) is ready
    assert calls[0][1]["wait_for_nodes"] == ">=2" and calls[0][1]["wait_for_status"] == "yellow"


# --- the CLI -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("args, fragment", [
    (["--nodes", "3", "--roles", "ml", "--roles", "ml", "--roles", "ml"], "no node has the cluster_manager role"),
    (["--roles", "cluster_manager,data", "--roles", "gpu"], "unknown role 'gpu'"),
    (["--nodes", "2", "--roles", "cluster_manager,data"], "--roles was given 1 time(s) for 2 node(s)"),
    (["--nodes", "2", "--secure"], "--secure starts a single node"),
    (["--nodes", "2", "--backend", "docker"], "local backend only"),
    (["--nodes", "0"], "--nodes"),
])
def test_cli_bad_cluster_input_exits_2_before_anything_starts(capsys: pytest.CaptureFixture, args: list,
                                                             fragment: str) -> None:
    code, out, err = run(capsys, "local", "start", "--name", "bad", *args)
    assert code == 2 and fragment in err and out == ""
    assert "Traceback" not in err


def test_cli_start_picks_the_launcher_and_heap(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
                                               runtime: Path) -> None:
    made: list = []
    single = NodeInfo(name="default", url="http://127.0.0.1:9200", version="2.19.6", pid=1, java="17",
                      java_home="/j", dir="/d", home="/h")

    def node_start(self: LocalNode) -> NodeInfo:
        made.append(("node", self.heap, self.ready_timeout))
        return single

    def cluster_start(self: LocalCluster) -> NodeInfo:
        made.append(("cluster", self.heap, self.roles, self.ready_timeout))
        return _record_cluster(runtime, self.name, [11, 12, 13])

    monkeypatch.setattr(LocalNode, "start", node_start)
    monkeypatch.setattr(LocalCluster, "start", cluster_start)
    assert run(capsys, "local", "start", "--json")[1] and made.pop() == ("node", "1g", 180.0)
    code, out, _ = run(capsys, "local", "start", "--nodes", "3", "--name", "mn", "--json")
    assert code == 0 and made.pop() == ("cluster", "512m", [CM, ("ml",), ("ml",)], 300.0)
    data = json.loads(out)
    assert data["url"] == data["nodes"][0]["url"]
    assert [(n["name"], n["roles"]) for n in data["nodes"]] == [("node-1", list(CM)), ("node-2", ["ml"]),
                                                                 ("node-3", ["ml"])]
    run(capsys, "local", "start", "--roles", "cluster_manager,data", "--roles", "ml", "--heap", "1g", "--name", "r")
    assert made.pop()[:3] == ("cluster", "1g", [("cluster_manager", "data"), ("ml",)])


def test_cli_status_of_a_cluster_whose_nodes_are_gone(capsys: pytest.CaptureFixture, runtime: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _record_cluster(runtime, "mn", [gone.pid, gone.pid, gone.pid])
    code, out, _ = run(capsys, "local", "status", "--name", "mn", "--json")
    data = json.loads(out)
    assert code == 1 and data["running"] is False
    assert [(n["name"], n["running"], n["in_cluster"]) for n in data["nodes"]] == [
        ("node-1", False, False), ("node-2", False, False), ("node-3", False, False)]
    code, out, _ = run(capsys, "local", "status", "--name", "mn")
    assert code == 1 and "0/3 nodes running" in out and "node-2" in out


def test_cli_kill_node_of_something_that_is_no_cluster_exits_1(capsys: pytest.CaptureFixture) -> None:
    code, _, err = run(capsys, "local", "kill-node", "node-2", "--name", "nothing")
    assert code == 1 and "not a running multi-node cluster" in err
