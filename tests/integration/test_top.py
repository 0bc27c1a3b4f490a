"""`top` on real nodes (issue 25, "a live view"): after 50 predicts it shows the model with its requests, failures
and latency percentiles from ML Commons' stats and profile APIs; on the 3-node cluster, per node. The live view
ends with exit 0 on Ctrl-C and quietly when its reader goes away.

Every test ends with `down`: none of our resources is left, the settings are as they were.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.test_multi_node import client, cluster, mcli  # noqa: F401 - the 3-node fixtures

CHAT = str(CONNECTORS / "deepseek-chat.yaml")
PREDICTS = 50


def predict_many(os_client: Any, fake_deepseek: Any, count: int = PREDICTS) -> str:
    """``count`` predicts through the Python API (one model lookup, then one call each); the model id."""
    bp = load_blueprint(CHAT, env_file=False, env={"DEEPSEEK_API_KEY": fake_deepseek.api_key,
                                                    "DEEPSEEK_BASE_URL": fake_deepseek.url})
    model_id = api.model_id_of(os_client, bp)
    for i in range(count):
        assert api.predict(os_client, bp, f"ping {i}", model_id=model_id).text
    return model_id


def the_model(top_json: dict, model_id: str) -> dict:
    [row] = [m for m in top_json["models"] if m["model_id"] == model_id]
    return row


def assert_latency(latency: Any) -> None:
    assert latency and latency["count"] >= 1, latency
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"], latency


def test_top_after_50_predicts_shows_requests_failures_and_percentiles(cli: Cli, clean_cluster: Any,
                                                                       fake_deepseek: Any) -> None:
    assert cli("up", CHAT).code == 0
    try:
        model_id = predict_many(clean_cluster, fake_deepseek)
        result = cli("top", "--once", "--json")
        assert result.code == 0, result
        row = the_model(result.json(), model_id)
        sys.stderr.write(f"top after {PREDICTS} predicts: {row['requests']} requests, {row['failed']} failed, "
                         f"latency {row['latency']}\n")
        assert row["blueprint"] == "deepseek-chat" and row["state"] == "DEPLOYED"
        assert row["requests"] >= PREDICTS and row["failed"] == 0, row  # the fake answered every call
        assert_latency(row["latency"])
        assert row["latency"]["exact"] is True and row["serving"].startswith("1/1 nodes")
        only = cli("top", "--json", CHAT).json()  # a BLUEPRINT filter, and --json alone prints once
        assert [m["model_id"] for m in only["models"]] == [model_id]
        table = cli("top", "--once")
        assert table.code == 0 and model_id in table.out and "deepseek-chat" in table.out, table
        doctor = cli("doctor", CHAT, "--no-preflight")
        assert f"model {model_id}: {row['requests']}" in doctor.out and "0 failed (0.0 %), p99 " in doctor.out, doctor
    finally:
        assert cli("down", CHAT).code == 0


def test_the_live_view_ends_with_exit_0_on_ctrl_c_and_quietly_when_its_reader_goes(cli: Cli, clean_cluster: Any,
                                                                                   fake_deepseek: Any) -> None:
    assert cli("up", CHAT, "--no-smoke").code == 0
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))},
           **cli.env}
    try:
        for ending in ("ctrl-c", "reader gone"):
            proc = subprocess.Popen([sys.executable, "-m", "opensearch_llm", "top", "--interval", "0.3"], cwd=cli.cwd,
                                    env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            assert proc.stdout is not None and "opensearch-llm top" in proc.stdout.readline()
            time.sleep(1.0)  # a few refreshes
            if ending == "ctrl-c":
                proc.send_signal(signal.SIGINT)
            else:
                proc.stdout.close()
            _out, err = proc.communicate(timeout=30) if ending == "ctrl-c" else (None, proc.stderr.read())
            assert proc.wait(timeout=30) == 0, f"{ending}: exit {proc.returncode}\n{err}"
            assert "Traceback" not in err and "BrokenPipe" not in err, err
            cli.assert_no_secret(err)
    finally:
        assert cli("down", CHAT).code == 0


def test_top_on_three_nodes_shows_per_node_figures(mcli: Cli, client: Any, fake_deepseek: Any) -> None:  # noqa: F811
    up = mcli("up", CHAT, "--json")
    assert up.code == 0, up
    try:
        assert up.json()["serving"].startswith("3/3 nodes: ")
        model_id = predict_many(client, fake_deepseek)
        result = mcli("top", "--once", "--json")
        assert result.code == 0, result
        data = result.json()
        row = the_model(data, model_id)
        sys.stderr.write(f"top on 3 nodes: {[(n['node'], n['requests'], n['failed']) for n in row['nodes']]}\n")
        assert data["node_count"] == 3 and row["requests"] >= PREDICTS and row["failed"] == 0, row
        ran = [n for n in row["nodes"] if n["requests"]]
        assert len(ran) >= 2, row["nodes"]  # ML Commons spreads the predicts over the workers
        assert sum(n["requests"] for n in row["nodes"]) == row["requests"]
        assert {n["node"] for n in row["nodes"]} <= {"node-1", "node-2", "node-3"}
        for node in ran:
            assert_latency(node["latency"])
        assert_latency(row["latency"])
        assert row["latency"]["exact"] is False  # several nodes' windows: the slowest node's percentiles
        table = mcli("top", "--once").out
        assert all(f"  node-{i}" in table for i in (1, 2, 3) if any(n["node"] == f"node-{i}" for n in ran)), table
    finally:
        assert mcli("down", CHAT).code == 0
