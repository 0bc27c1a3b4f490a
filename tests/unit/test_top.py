"""`top` without a node: recorded profile and stats answers (field names from ML Commons 2.19.6 and 3.6.0:
MLProfileResponse, MLModelProfile, MLPredictRequestStats, MLStatsNodeResponse, MLModelStats, MLActionStats) merged
into rows, per node on a cluster; the failures told from them; the table; doctor's line; the CLI."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner

from opensearch_llm import api, top
from opensearch_llm.blueprint.identity import load_identity
from opensearch_llm.cli import streams, top_cmds
from opensearch_llm.errors import ClusterError
from opensearch_llm.lifecycle import traffic
from opensearch_llm.lifecycle.facts import owned
from opensearch_llm.lifecycle.naming import Marker
from opensearch_llm.resources import profile
from opensearch_llm.upstream_checks import Check

ROOT = Path(__file__).resolve().parents[2]
MID = "Xk3vGZQBf0dXc1pD9aQe"


def stats_window(count: int, p99: float = 230.0) -> dict:
    return {"count": count, "max": p99 + 20, "min": 80.5, "average": 120.25, "p50": 110.0, "p90": 180.0, "p99": p99}


# 2.19.6, one node, GET /_plugins/_ml/profile/models: a remote model after the smoke probe and 51 predicts
PROFILE_219 = {"nodes": {"n1": {"models": {MID: {
    "model_state": "DEPLOYED", "predictor": "org.opensearch.ml.engine.algorithms.remote.RemoteModel@5e1a8b3c",
    "target_worker_nodes": ["n1"], "worker_nodes": ["n1"],
    "model_inference_stats": stats_window(50), "predict_request_stats": stats_window(52, 260.0)}}}}}
# 2.19.6, GET /_plugins/_ml/stats as an older caller without a body gets it: every level
STATS_219 = {"ml_model_index_status": "green", "ml_connector_count": 1, "ml_model_count": 1, "nodes": {"n1": {
    "ml_executing_task_count": 0, "ml_request_count": 55, "ml_failure_count": 0, "ml_deployed_model_count": 1,
    "ml_circuit_breaker_trigger_count": 0, "ml_jvm_heap_usage": 41,
    "algorithms": {"remote": {"predict": {"ml_action_request_count": 52}, "deploy": {"ml_action_request_count": 1}}},
    "models": {MID: {"predict": {"ml_action_request_count": 52}, "deploy": {"ml_action_request_count": 1}}}}}}
# 3.6.0, three nodes, the answers to the requests resources.profile sends; node-1 received every request (its
# predict_request_stats count them all), each node ran a third; the failure counter exists (a failure happened)
# but ML Commons never increments it
PROFILE_36 = {"nodes": {
    "n1": {"models": {MID: {"model_state": "DEPLOYED", "target_worker_nodes": ["n1", "n2", "n3"],
                            "worker_nodes": ["n1", "n2", "n3"], "model_inference_stats": stats_window(17, 200.0),
                            "predict_request_stats": stats_window(51, 300.0)}}},
    "n2": {"models": {MID: {"model_state": "DEPLOYED", "model_inference_stats": stats_window(16, 240.0),
                            "predict_request_stats": stats_window(17)}}},
    "n3": {"models": {MID: {"model_state": "DEPLOYED", "model_inference_stats": stats_window(16, 220.0),
                            "predict_request_stats": stats_window(17)}}}}}
STATS_36 = {"nodes": {
    "n1": {"ml_executing_task_count": 0, "models": {MID: {"predict": {"ml_action_request_count": 17}}}},
    "n2": {"ml_executing_task_count": 0,
           "models": {MID: {"predict": {"ml_action_request_count": 17, "ml_action_failure_count": 0}}}},
    "n3": {"ml_executing_task_count": 0,
           "models": {MID: {"predict": {"ml_action_request_count": 17, "ml_action_failure_count": 0}}}}}}
NAMES = {"n1": "node-1", "n2": "node-2", "n3": "node-3"}


def model_doc(workers: list[str], blueprint: str = "deepseek-chat", state: str = "DEPLOYED") -> dict:
    marker = Marker("20261121T120501-3fa2c1", blueprint, "2026-11-21T12:05:01Z", kind="up")
    return {"id": MID, "name": blueprint, "description": f"chat {marker.text()}", "model_state": state,
            "current_worker_node_count": len(workers), "planning_worker_node_count": len(workers),
            "planning_worker_nodes": workers}


def merged(profiles: dict, stats: dict, workers: list[str]) -> list[top.ModelRow]:
    return top.rows(owned("model", [model_doc(workers)]), NAMES, profile.profile_models(profiles),
                    profile.stats_nodes(stats))


def test_219_one_node_requests_failures_and_latency() -> None:
    [row] = merged(PROFILE_219, STATS_219, ["n1"])
    assert (row.blueprint, row.model_id, row.state, row.serving) == ("deepseek-chat", MID, "DEPLOYED",
                                                                     "1/1 nodes: node-1")
    assert row.figures.requests == 52 and row.figures.failed == 2  # 52 ran, 50 succeeded, none running
    latency = row.figures.latency
    assert latency and latency.exact and (latency.count, latency.p50, latency.p90, latency.p99) == (50, 110, 180, 230)
    data = row.to_dict()
    assert data["failure_rate"] == pytest.approx(2 / 52) and data["nodes"][0]["node"] == "node-1"
    assert data["nodes"][0]["request_latency"]["count"] == 52 and data["nodes"][0]["reported_failures"] is None


def test_36_three_nodes_have_per_node_figures_and_an_upper_bound() -> None:
    [row] = merged(PROFILE_36, STATS_36, ["n1", "n2", "n3"])
    assert row.serving == "3/3 nodes: node-1, node-2, node-3"
    assert [(n.node, n.figures.requests, n.figures.failed) for n in row.nodes] == [
        ("node-1", 17, 0), ("node-2", 17, 1), ("node-3", 17, 1)]
    assert row.figures.requests == 51 and row.figures.failed == 2
    latency = row.figures.latency
    assert latency and not latency.exact and latency.count == 49 and latency.p99 == 240  # the slowest node's
    assert latency.min == 80.5 and latency.average == pytest.approx(120.25)
    assert top.UPPER_BOUND in top.notes([row])


def test_failures_are_unknown_past_the_window_or_after_a_reset_and_running_calls_are_not_failures() -> None:
    def failed(requests: int, executing: int, seen: int, ok: int) -> Any:
        return traffic.NodeFigures("n1", "DEPLOYED", requests, None, executing,
                                   traffic.Latency(ok) if ok else None, traffic.Latency(seen) if seen else None).failed

    assert failed(150, 0, 100, 100) is None  # past the window of 100
    assert failed(60, 0, 10, 10) is None  # an undeploy emptied the window; the counter kept going
    assert failed(10, 3, 7, 7) == 0  # three still running
    assert failed(0, 0, 0, 0) == 0 and failed(5, 0, 5, 0) == 5
    assert traffic.NodeFigures("n1", requests=150, reported_failures=4).failed == 4  # a counter that counts wins


def test_a_node_that_only_routed_requests_and_missing_fields_are_tolerated() -> None:
    profiles = {"nodes": {"n1": {"models": {MID: {"predict_request_stats": stats_window(9)}}},
                          "n2": {"models": {MID: {"model_state": "DEPLOYED", "model_inference_stats": {}}}},
                          "n3": "garbage"}}
    stats = {"nodes": {"n2": {"models": {MID: {"predict": {"ml_action_request_count": 9}}}}}}
    [row] = merged(profiles, stats, ["n2"])
    assert [(n.node, n.figures.state, n.figures.failed) for n in row.nodes] == [("node-1", None, 0),
                                                                                ("node-2", "DEPLOYED", None)]
    assert "routing" in top.render(top.TopSnapshot("t", (row,), 3)) and row.figures.latency is None
    [empty] = merged({}, {}, ["n1"])
    assert (empty.figures.requests, empty.figures.failed, empty.nodes) == (0, 0, ())


def test_render_is_a_table_with_node_lines_on_a_cluster() -> None:
    [one] = merged(PROFILE_219, STATS_219, ["n1"])
    lines = top.render(top.TopSnapshot("2026-11-21T12:06:00+00:00", (one,), 1, notes=top.notes([one]))).splitlines()
    assert lines[1].split() == ["BLUEPRINT", "MODEL", "STATE", "NODES", "REQUESTS", "FAILED", "P50", "P90", "P99"]
    assert lines[2].split() == ["deepseek-chat", MID, "DEPLOYED", "1/1", "52", "2", "(3.8%)", "110", "180", "230"]
    assert len(lines) == 4 and lines[3] == f"* {top.LATENCY}"
    [three] = merged(PROFILE_36, STATS_36, ["n1", "n2", "n3"])
    text = top.render(top.TopSnapshot("t", (three,), 3))
    assert "<=240" in text and [line.split()[0] for line in text.splitlines()[3:6]] == ["node-1", "node-2", "node-3"]


def test_render_narrows_the_name_columns_to_the_width_and_says_when_there_is_nothing() -> None:
    [row] = merged(PROFILE_219, STATS_219, ["n1"])
    long = top.ModelRow("a-very-long-blueprint-name-indeed", *list(vars(row).values())[1:])
    lines = top.render(top.TopSnapshot("t", (long,), 1), width=80).splitlines()
    assert all(len(line) <= 80 for line in lines[1:]) and "a-very.." in lines[2]
    assert "no model of ours for deepseek-chat in this cluster" in top.render(
        top.TopSnapshot("t", (), 1, ("deepseek-chat",)))


class FakeClient:
    """Answers the listing, node info, profile and stats requests from recorded documents."""

    def __init__(self, docs: list[dict], profiles: Any, stats: Any) -> None:
        self.sent: list[tuple] = []
        self.answers = {"profile": profiles, "stats": stats}
        hits = [{"_id": d["id"], "_source": {k: v for k, v in d.items() if k != "id"}} for d in docs]
        search = {"hits": {"total": {"value": len(hits)}, "hits": hits}}
        self.plugins = SimpleNamespace(ml=SimpleNamespace(search_models=lambda body: search))
        self.nodes = SimpleNamespace(info=lambda **kw: {"nodes": {i: {"name": n, "roles": ["data"], "version": "3.6.0",
                                                                       "plugins": []} for i, n in NAMES.items()}})
        self.transport = SimpleNamespace(perform_request=self.perform)

    def perform(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        self.sent.append((method, path, body))
        answer = self.answers["profile" if path.startswith(profile.PROFILE) else "stats"]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_snapshot_asks_for_our_models_only_stats_first_and_filters_by_blueprint() -> None:
    client = FakeClient([model_doc(["n1", "n2", "n3"])], PROFILE_36, STATS_36)
    snap = top.snapshot(client, now=lambda: "t")
    assert [(m, p) for m, p, _b in client.sent] == [("GET", profile.STATS), ("GET", f"{profile.PROFILE}/{MID}")]
    assert client.sent[0][2] == {**profile.STATS_INPUT, "models": [MID]}
    data = json.loads(json.dumps(snap.to_dict()))
    assert data["node_count"] == 3 and [m["requests"] for m in data["models"]] == [51]
    assert len(data["models"][0]["nodes"]) == 3 and data["models"][0]["latency"]["p99"] == 240
    assert top.snapshot(client, ["ollama-chat"], now=lambda: "t").models == ()


def test_snapshot_with_figures_refused_still_lists_the_models() -> None:
    refused = ClusterError("no permissions for [cluster:admin/opensearch/ml/stats/nodes]", status=403)
    snap = top.snapshot(FakeClient([model_doc(["n1"])], PROFILE_219, refused), now=lambda: "t")
    assert [m.model_id for m in snap.models] == [MID] and "figures unreadable" in snap.notes[-1]
    with pytest.raises(ClusterError):
        top.snapshot(FakeClient([model_doc(["n1"])], PROFILE_219, ClusterError("boom", status=500)))


def test_doctor_gets_one_line_per_provisioned_blueprint() -> None:
    identity = load_identity(ROOT / "connectors" / "deepseek-chat.yaml", env={})
    [row] = traffic.blueprint_rows(FakeClient([model_doc(["n1"])], PROFILE_219, STATS_219), [identity])
    check = Check(**row)
    assert check.name == "deepseek-chat: recent traffic" and check.ok and check.warn
    assert check.detail == f"model {MID}: 52 requests, 2 failed (3.8 %), p99 230 ms (ML Commons profile)"
    assert traffic.blueprint_rows(FakeClient([], {}, {}), [identity]) == []
    [refused] = traffic.blueprint_rows(FakeClient([model_doc(["n1"])], ClusterError("x", status=403), {}), [identity])
    assert refused["warn"] and "cannot read ML Commons stats/profile" in refused["detail"]


class FakeSnapshot:
    def to_dict(self) -> dict:
        return {"models": [{"model_id": MID, "requests": 52}]}

    def render(self, width: int = 100) -> str:
        return f"TABLE {width}"


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    monkeypatch.setattr(top_cmds, "make_client", lambda **conn: "client")
    monkeypatch.setattr(api, "top_snapshot", lambda client, blueprints=(): calls.append(blueprints) or FakeSnapshot())
    return calls


def test_cli_json_prints_one_snapshot_and_exits(fake_api: list) -> None:
    result = CliRunner().invoke(top_cmds.top, ["--json", str(ROOT / "connectors" / "deepseek-chat.yaml")],
                                catch_exceptions=False)
    assert result.exit_code == 0 and json.loads(result.output)["models"][0]["requests"] == 52
    assert fake_api == [["deepseek-chat"]]
    once = CliRunner().invoke(top_cmds.top, ["--once"], catch_exceptions=False)
    assert once.exit_code == 0 and once.output.startswith("TABLE ") and fake_api[-1] == []


def test_watch_redraws_until_ctrl_c_and_shows_a_later_error(capsys: pytest.CaptureFixture) -> None:
    frames = iter(["one", ClusterError("unreachable", status=None), "three"])
    sleeps: list = []

    def frame() -> str:
        item = next(frames)
        if isinstance(item, Exception):
            raise item
        return item

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise KeyboardInterrupt

    top_cmds.watch(frame, 0.5, sleep)
    out = capsys.readouterr().out
    assert out.index("one") < out.index("error: unreachable (retrying every 0.5 s)") < out.index("three")
    with pytest.raises(ClusterError):
        top_cmds.watch(lambda: (_ for _ in ()).throw(ClusterError("refused", status=401)), 0.5, sleep)


def test_watch_stops_quietly_when_the_reader_of_stdout_goes_away(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)
    with open(write_end, "w", closefd=True) as pipe:
        guarded = streams._guarded(pipe)
        monkeypatch.setattr(sys, "stdout", guarded)
        top_cmds.watch(lambda: "frame", 0.5, lambda s: pytest.fail("slept after stdout went away"))
        assert streams.output_gone(guarded)
