"""The README's main-job command: `opensearch-llm demo` runs the whole lifecycle on embedded defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_demo_runs_up_predict_down_and_leaves_no_node(tmp_path: object) -> None:
    from opensearch_llm.paths import instances_dir

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OPENSEARCH_URL"))}
    name = f"demo-test-{os.getpid()}"  # its own instance: never the user's default node
    proc = subprocess.run([sys.executable, "-m", "opensearch_llm", "demo", "--json", "--name", name],
                          capture_output=True, text=True, timeout=900, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["answer"] == "Echo: Hello from opensearch-llm"
    phases = [p["phase"] for p in report["phases"]]
    assert phases[0].startswith("local node OpenSearch") and phases[-1].startswith("down")
    for step in ("settings", "model group", "connector", "model", "deploy", "smoke", "delete model"):
        assert f" {step} " in proc.stderr, step
    assert "sk-demo-" not in proc.stdout + proc.stderr
    from opensearch_llm.local.process import pids_matching

    assert pids_matching(str(instances_dir() / name)) == [], "demo left its node running"
