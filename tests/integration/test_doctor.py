"""``doctor`` against a real node and the offline fakes: passes when `up` would work, fails with the fix."""

from __future__ import annotations

from typing import Any

from opensearch_llm.doctor import REMOTE_INFERENCE
from tests.helpers import closed_url
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import served_without_document

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
OLLAMA = str(CONNECTORS / "ollama-chat.yaml")
CLUSTER_CHECKS = ["cluster reachable", "OpenSearch version", "opensearch-ml plugin", "remote inference",
                  "nodes for remote models"]


def test_everything_passes_and_says_what_up_will_change(cli: Cli, clean_cluster: Any) -> None:
    # a ghost deployment only a node restart clears may be on the session's node from an earlier test: then the
    # problems row warns about it (which is right) and every other row must still pass
    ghosts = served_without_document(clean_cluster)
    result = cli("doctor", DEEPSEEK)
    assert result.code == 0, result
    lines = result.out.splitlines()
    features = lines.index("cluster features:")
    problems_row = "WARN  ghosts, drift, stray settings" if ghosts else "PASS  ghosts, drift, stray settings"
    assert all(line.startswith(("PASS", " ", problems_row)) for line in lines[:features]), result
    assert all(line.startswith("  yes  ") for line in lines[features + 1:-1]), result  # a local node has them all
    assert lines[-1] == "10 passed, 0 failed" + (", 1 warning(s)" if ghosts else "")
    assert problems_row in result.out and "(drift checked: deepseek-chat)" in result.out
    port = cli.env["DEEPSEEK_BASE_URL"].rsplit(":", 1)[1]
    assert r"up will add trusted endpoint ^http://127\.0\.0\.1:%s/.*$" % port in result.out
    assert "enable plugins.ml_commons.connector.private_ip_enabled" in result.out
    assert "/models -> HTTP 401" in result.out


def test_json_lists_every_check_for_two_blueprints(cli: Cli, clean_cluster: Any) -> None:
    result = cli("doctor", DEEPSEEK, OLLAMA, "--json")
    assert result.code == 0, result
    data = result.json()
    assert data["ok"] is True
    names = [c["name"] for c in data["checks"]]
    assert names == CLUSTER_CHECKS + [f"{bp}: {what}" for bp in ("deepseek-chat", "ollama-chat")
                                      for what in ("blueprint", "settings", "upstream", "preflight")] \
        + ["ghosts, drift, stray settings"]
    version = next(c for c in data["checks"] if c["name"] == "OpenSearch version")
    assert version["detail"].startswith("OpenSearch ")
    assert "Ollama " in data["checks"][-3]["detail"]
    assert "accepts the key and offers" in data["checks"][-2]["detail"]
    assert {f["name"]: f["supported"] for f in data["features"]} == {
        "RAG search pipelines": True, "agents": True, "conversation memory": True,
        "ml_inference ingest processor": True, "k-NN": True}


def test_unreachable_upstream_fails_with_the_fix(cli: Cli, clean_cluster: Any) -> None:
    result = cli("doctor", DEEPSEEK, extra_env={"DEEPSEEK_BASE_URL": closed_url()})
    assert result.code == 1, result
    assert "FAIL  deepseek-chat: upstream" in result.out
    assert "fix: start the server or set DEEPSEEK_BASE_URL to a running endpoint" in result.out
    assert "WARN  deepseek-chat: preflight" in result.out and "is not reachable from this machine" in result.out
    assert "1 of 10 check(s) failed" in result.err


def test_unreachable_cluster_fails_with_the_fix(cli: Cli) -> None:
    result = cli("doctor", OLLAMA, extra_env={"OPENSEARCH_URL": closed_url(), "OPENSEARCH_LLM_TIMEOUT": "2"})
    assert result.code == 1, result
    assert "FAIL  cluster reachable" in result.out and "Connection refused" in result.out
    assert "fix: check --url / OPENSEARCH_URL, or start a local node: opensearch-llm local start" in result.out
    assert "PASS  ollama-chat: upstream" in result.out


def test_disabled_remote_inference_fails_cluster_and_blueprint_checks(cli: Cli, clean_cluster: Any) -> None:
    clean_cluster.cluster.put_settings(body={"persistent": {REMOTE_INFERENCE: False}})
    try:
        result = cli("doctor", DEEPSEEK, "--json")
    finally:
        clean_cluster.cluster.put_settings(body={"persistent": {REMOTE_INFERENCE: None}})
    assert result.code == 1, result
    failed = {c["name"]: c for c in result.json()["checks"] if not c["ok"]}
    assert set(failed) == {"remote inference", "deepseek-chat: settings"}
    put = '{"persistent": {"plugins.ml_commons.remote_inference.enabled": true}}'
    assert all(put in c["fix"] for c in failed.values())
    assert "remote inference is disabled" in failed["deepseek-chat: settings"]["detail"]
