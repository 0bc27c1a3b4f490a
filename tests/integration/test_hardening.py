"""Issue 10: nothing leaked, nothing lost, nothing billed twice — each hole a review found, closed on a real node."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours, persistent_settings

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
OLLAMA = str(CONNECTORS / "ollama-chat.yaml")
PASSWORD = "cluster-pw-Zq8-never-printed"


def _model_id(client: Any) -> str:
    return next(r["id"] for r in ours(client) if r["kind"] == "model")


def test_vv_prints_no_key_and_no_cluster_password(cli: Cli, clean_cluster: Any) -> None:
    # basic auth reaches a node without the security plugin too; it must never be printed
    cli.env.update({"OPENSEARCH_USERNAME": "admin", "OPENSEARCH_PASSWORD": PASSWORD})
    cli.secrets.append(PASSWORD)
    for args in (("up", DEEPSEEK), ("predict", DEEPSEEK, "--message", "hi"), ("smoke", OLLAMA),
                 ("down", DEEPSEEK), ("sweep", "--yes")):
        result = cli("-vv", *args)
        assert result.code == 0, result
        assert "DEBUG" in result.err, "-vv must turn on debug logging"
    assert cli.scan_files(cli.cwd) > 0  # journals


def test_debug_root_logger_through_the_python_api_prints_no_key(
        opensearch_client: Any, clean_cluster: Any, fake_deepseek: Any, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    from opensearch_llm import api
    from opensearch_llm.blueprint import load_blueprint
    from opensearch_llm.lifecycle.events import RunOptions

    bp = load_blueprint(DEEPSEEK, env_file=False, env={"DEEPSEEK_API_KEY": fake_deepseek.api_key,
                                                       "DEEPSEEK_BASE_URL": fake_deepseek.url})
    options = RunOptions(journal_dir=str(tmp_path / "runs"))
    with caplog.at_level(logging.DEBUG):
        api.up(opensearch_client, bp, options=options)
        assert api.predict(opensearch_client, bp, "hi").text
        assert api.down(opensearch_client, bp, options=options).clean
    assert "_plugins/_ml/connectors/_create" in caplog.text, "debug logs were not captured"
    assert fake_deepseek.api_key not in caplog.text
    for record in caplog.records:
        assert fake_deepseek.api_key not in record.getMessage()


def test_one_predict_reaches_a_slow_upstream_once(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    try:
        fake_deepseek.clear_requests()
        fake_deepseek.slow(6.0)
        result = cli("predict", DEEPSEEK, "--message", "hi", "--set", "predict.timeout=2s")
        assert result.code == 1, result
        assert "did not answer within 2 s; the model call may still have run" in result.err
        time.sleep(6.5)  # anything resent would have arrived by now
        calls = [r for r in fake_deepseek.requests if r.path.endswith("/chat/completions")]
        assert len(calls) == 1, f"the upstream received {len(calls)} requests"
    finally:
        fake_deepseek.reset_faults()
        assert cli("down", DEEPSEEK).code == 0


def test_down_from_another_directory_without_the_key_restores_settings(cli: Cli, clean_cluster: Any,
                                                                        tmp_path: Path) -> None:
    before = persistent_settings(clean_cluster)
    del cli.env["OPENSEARCH_LLM_JOURNAL_DIR"]
    cli.env["OPENSEARCH_LLM_STATE_DIR"] = str(tmp_path / "state")
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    assert persistent_settings(clean_cluster) != before
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    down = Cli(elsewhere, {k: v for k, v in cli.env.items() if k != "DEEPSEEK_API_KEY"}, cli.secrets)
    result = down("down", DEEPSEEK)
    assert result.code == 0, result
    assert "left as they are" not in result.err
    assert ours(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before
    assert list((tmp_path / "state" / "runs").glob("*.jsonl")), "the journal is in the state directory"


def _popen(cli: Cli, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))}
    env.update(cli.env)
    return subprocess.Popen([sys.executable, "-m", "opensearch_llm", *args], cwd=cli.cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_model(client: Any, blueprint: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r["kind"] == "model" and r["blueprint"] == blueprint for r in ours(client)):
            return
        time.sleep(0.05)
    raise AssertionError(f"{blueprint} never registered its model")


def test_sweep_takes_a_killed_smoke_run_and_keeps_up_deployments(proxied_cli: Cli, fault_proxy: Any,
                                                                 clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    assert proxied_cli("up", DEEPSEEK, "--no-smoke").code == 0
    fault_proxy.add(Rule(method="POST", path=r"/_predict", delay=30.0))  # hold the smoke probe
    proc = _popen(proxied_cli, "smoke", OLLAMA)
    _wait_for_model(clean_cluster, "ollama-chat")
    proc.kill()
    proc.wait(10)
    fault_proxy.clear()
    assert {r["run_kind"] for r in ours(clean_cluster)} == {"up", "smoke"}

    swept = proxied_cli("sweep", "--older-than", "0s", "--yes", "--json")
    assert swept.code == 0, swept
    assert {r["blueprint"] for r in swept.json()["deleted"]} == {"ollama-chat"}
    assert {r["blueprint"] for r in ours(clean_cluster)} == {"deepseek-chat"}
    assert proxied_cli("predict", DEEPSEEK, "--message", "still there?").code == 0

    everything = proxied_cli("sweep", "--include-up", "--yes")
    assert everything.code == 0, everything
    assert ours(clean_cluster) == []
    assert persistent_settings(clean_cluster) == before


def test_sweep_of_a_cluster_answering_garbage_ends_with_exit_3(proxied_cli: Cli, fault_proxy: Any,
                                                               clean_cluster: Any) -> None:
    assert proxied_cli("up", DEEPSEEK, "--no-smoke").code == 0
    fault_proxy.add(Rule(status=200, body="<html>not json</html>", headers={"Content-Type": "application/json"}))
    result = proxied_cli("sweep", "--include-up", "--yes", "--deadline", "20", timeout=60)  # raises if it hangs
    assert result.code == 3, result
    assert "not JSON" in result.err
    fault_proxy.clear()
    assert proxied_cli("down", DEEPSEEK).code == 0


class _Traffic:
    """A client calling ``_predict`` on one model every 50 ms, counting answers by status."""

    def __init__(self, url: str, model_id: str) -> None:
        self.url, self.model_id = url, model_id
        self.codes: dict = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        body = json.dumps({"parameters": {"messages": [{"role": "user", "content": "hi"}]}}).encode()
        while not self.stop.wait(0.05):
            request = urllib.request.Request(f"{self.url}/_plugins/_ml/models/{self.model_id}/_predict", data=body,
                                             headers={"Content-Type": "application/json"}, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    code: Any = answer.status
            except urllib.error.HTTPError as exc:
                code = exc.code
            except OSError as exc:
                code = type(exc).__name__
            self.codes[code] = self.codes.get(code, 0) + 1

    def __enter__(self) -> "_Traffic":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop.set()
        self.thread.join(15)


def test_down_while_a_client_keeps_predicting_leaves_nothing(cli: Cli, clean_cluster: Any,
                                                             opensearch_url: str) -> None:
    before = persistent_settings(clean_cluster)
    assert cli("up", DEEPSEEK, "--no-smoke").code == 0
    with _Traffic(opensearch_url, _model_id(clean_cluster)) as traffic:
        time.sleep(1.0)
        result = cli("down", DEEPSEEK)
        assert result.code == 0, result
        time.sleep(2.0)  # predicts keep coming: nothing may come back
        assert ours(clean_cluster) == [], f"resurrected under traffic: {traffic.codes}"
    assert traffic.codes.get(200, 0) > 0, f"the traffic never reached the model: {traffic.codes}"
    assert persistent_settings(clean_cluster) == before


def test_pytest_ignores_an_exported_opensearch_url(tmp_path: Path, fake_deepseek: Any,
                                                   opensearch_line: str) -> None:
    (tmp_path / "test_inner.py").write_text(
        "def test_uses_its_own_node(opensearch_url, opensearch_client):\n"
        "    import os\n"
        "    assert opensearch_url != os.environ['OPENSEARCH_URL']\n"
        "    assert opensearch_client.info()['version']['number']\n")
    env = {**os.environ, "OPENSEARCH_URL": fake_deepseek.url}  # a server that records every request
    fake_deepseek.clear_requests()
    inner = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--opensearch-lines",
                            opensearch_line, str(tmp_path / "test_inner.py")], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    assert inner.returncode == 0, inner.stdout + inner.stderr
    assert "OPENSEARCH_URL is set and ignored" in inner.stdout
    assert fake_deepseek.requests == [], "the exported URL was contacted"


@pytest.mark.parametrize("sig", [signal.SIGKILL])
def test_killed_smoke_is_found_by_sweep_without_its_journal(sig: int, proxied_cli: Cli, fault_proxy: Any,
                                                            clean_cluster: Any, tmp_path: Path) -> None:
    before = persistent_settings(clean_cluster)
    fault_proxy.add(Rule(method="POST", path=r"/_predict", delay=30.0))
    leased = Cli(proxied_cli.cwd, {**proxied_cli.env, "OPENSEARCH_LLM_LEASE": "5s"}, proxied_cli.secrets)
    proc = _popen(leased, "smoke", DEEPSEEK)
    _wait_for_model(clean_cluster, "deepseek-chat")
    proc.send_signal(sig)
    proc.wait(10)
    fault_proxy.clear()
    elsewhere = Cli(tmp_path, {**proxied_cli.env, "OPENSEARCH_LLM_JOURNAL_DIR": str(tmp_path / "no-journals")},
                    proxied_cli.secrets)
    early = elsewhere("sweep", "--yes", "--json")  # another host cannot tell a killed run from a live one ...
    assert early.code == 0 and early.json()["deleted"] == [], early
    time.sleep(5.5)  # ... until its lease ends
    swept = elsewhere("sweep", "--yes")
    assert swept.code == 0, swept
    assert ours(clean_cluster) == []
    # the settings record is in the cluster: restored without the journal
    assert persistent_settings(clean_cluster) == before
