"""A failure at each lifecycle step ends with exit 1, the original error, and nothing of ours left."""

from __future__ import annotations

from typing import Any

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")


def test_connector_refused(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any) -> None:
    fault_proxy.add(Rule(method="POST", path=r"/_plugins/_ml/connectors/_create", status=400))
    result = proxied_cli("up", DEEPSEEK)
    assert result.code == 1, result
    assert "injected 400" in result.err and "connector" in result.err
    assert "rolled back this run: deleted model_group" in result.err
    assert ours(clean_cluster) == []


def test_deploy_failed(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any) -> None:
    # DEPLOY_FAILED is reported only once the node's real deploy task has ended (as ML Commons does): a failure
    # reported while the task still runs would have the rollback undeploy before the deploy lands on the node,
    # which leaves the node serving a model with no document (a ghost this test made, not the tool)
    def failed(doc: dict) -> dict:
        return {**doc, "model_state": "DEPLOY_FAILED"} if doc.get("model_state") == "DEPLOYED" else doc

    fault_proxy.add(Rule(method="GET", path=r"/_plugins/_ml/models/(?!_search)[^/?]+$", respond_json=failed))
    result = proxied_cli("up", DEEPSEEK)
    assert result.code == 1, result
    assert "reached DEPLOY_FAILED" in result.err
    assert "rolled back this run" in result.err
    fault_proxy.clear()
    assert ours(clean_cluster) == []


def test_deploy_timeout_redeploys_once_then_fails(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any) -> None:
    def deploying(doc: dict) -> dict:
        return {**doc, "model_state": "DEPLOYING"} if "model_state" in doc else doc

    fault_proxy.add(Rule(method="GET", path=r"/_plugins/_ml/models/(?!_search)[^/?]+$", respond_json=deploying))
    result = proxied_cli("up", DEEPSEEK, "--set", "deploy.timeout=1s")
    assert result.code == 1, result
    assert "not deployed after 1s and one re-deploy" in result.err
    assert fault_proxy.count("POST", r"/_deploy$") == 1
    fault_proxy.clear()
    assert ours(clean_cluster) == []


def test_cluster_error_on_model_group_create(proxied_cli: Cli, fault_proxy: Any, clean_cluster: Any) -> None:
    fault_proxy.add(Rule(method="POST", path=r"/model_groups/_register", status=500))
    result = proxied_cli("up", DEEPSEEK)
    assert result.code == 1, result
    assert "model group" in result.err and "500" in result.err
    assert ours(clean_cluster) == []


def test_upstream_rejects_the_key(cli: Cli, clean_cluster: Any) -> None:
    # --no-preflight: the key gets past step 0 (tests/integration/test_preflight_cli.py) to the connector
    result = cli("up", DEEPSEEK, "--no-preflight", extra_env={"DEEPSEEK_API_KEY": "sk-wrong-key-000000001234"})
    assert result.code == 1, result
    assert "authentication failed" in result.err and "Authentication Fails" in result.err
    assert "sk-wrong-key-000000001234" not in result.err + result.out
    assert ours(clean_cluster) == []


def test_upstream_failures_are_told_apart(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    cases = {
        429: ("rate limited by the LLM provider (429)", "Rate limit reached"),
        500: ("the LLM provider failed (500)", "server had an error"),
    }
    for status, (ours_says, provider_says) in cases.items():
        fake_deepseek.fail(status, retry_after=1 if status == 429 else None)
        result = cli("up", DEEPSEEK)
        fake_deepseek.reset_faults()
        assert result.code == 1, result
        assert ours_says in result.err and provider_says in result.err
    down = cli("up", DEEPSEEK, extra_env={"DEEPSEEK_BASE_URL": "http://127.0.0.1:9"})
    assert down.code == 1, down
    assert "could not reach the LLM provider" in down.err
    assert ours(clean_cluster) == []
