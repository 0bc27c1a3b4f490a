"""Every lifecycle request × {5xx, connection reset, timeout}: zero leftovers and restored settings straight
after the failing command (its own rollback or retries), no sweep needed. SIGKILL is covered elsewhere
(test_reliability, test_hardening): only there may a sweep finish the job."""

from __future__ import annotations

from typing import Any

import pytest

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, FIGURES, Cli
from tests.integration.conftest import ours, persistent_settings

DEEPSEEK = str(CONNECTORS / "deepseek-chat.yaml")
STEPS = {
    "settings": ("PUT", r"/_cluster/settings"),
    "model_group": ("POST", r"/model_groups/_register"),
    "connector": ("POST", r"/connectors/_create"),
    "register": ("POST", r"/models/_register"),
    "deploy_poll": ("GET", r"/_plugins/_ml/models/(?!_search)[^/?]+$"),
    "predict": ("POST", r"/_predict"),
    "undeploy": ("POST", r"/_undeploy"),
    "delete_model": ("DELETE", r"/_plugins/_ml/models/"),
    "delete_connector": ("DELETE", r"/_plugins/_ml/connectors/"),
    "delete_group": ("DELETE", r"/_plugins/_ml/model_groups/"),
}
FAULTS = {
    "5xx": dict(status=500),
    "reset": dict(reset=True),
    "timeout": dict(delay=4.0, after_upstream=True),  # the cluster acts now; its answer comes after the client gave up
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("step", list(STEPS))
def test_fault_at_step_leaves_nothing(step: str, fault: str, proxied_cli: Cli, fault_proxy: Any,
                                      opensearch_client: Any, record_property: Any) -> None:
    before = persistent_settings(opensearch_client)
    assert ours(opensearch_client) == []
    method, path = STEPS[step]
    rule = fault_proxy.add(Rule(method=method, path=path, count=1, **FAULTS[fault]))
    env = {"OPENSEARCH_LLM_TIMEOUT": "2"}
    up = proxied_cli("up", DEEPSEEK, extra_env=env)
    down = proxied_cli("down", DEEPSEEK, extra_env=env) if up.code == 0 else None
    fault_proxy.clear()
    left = ours(opensearch_client)
    settings_restored = persistent_settings(opensearch_client) == before
    record_property("leftovers_after_command", len(left))
    FIGURES["fault_cases"] += 1
    FIGURES["faults_injected"] += rule.applied
    FIGURES["leftovers_before_sweep"] += len(left)
    if left or not settings_restored:  # clean up for the next case; this case fails below
        proxied_cli("sweep", "--include-up", "--yes")
    assert rule.applied == 1, f"the {step} request never came"
    assert up.code in (0, 1), up
    if up.code == 1:
        assert "rolled back this run" in up.err, up
    assert down is None or down.code == 0, down
    assert left == [], f"{step} x {fault}: resources left straight after the command\n{up}\n{down}"
    assert settings_restored, f"{step} x {fault}: settings not restored straight after the command\n{up}\n{down}"
