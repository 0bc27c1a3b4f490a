"""Every lifecycle request × {5xx, connection reset, timeout}: zero leftovers and restored settings straight
after the failing command (its own rollback or retries), no sweep needed. SIGKILL is covered elsewhere
(test_reliability, test_hardening): only there may a sweep finish the job."""

from __future__ import annotations

from typing import Any

import pytest

from opensearch_llm.testing.fault_proxy import Rule
from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import fault_case

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
    method, path = STEPS[step]
    rule = Rule(method=method, path=path, count=1, **FAULTS[fault])
    left = fault_case(step, fault, rule, proxied_cli, fault_proxy, opensearch_client, (DEEPSEEK,))
    record_property("leftovers_after_command", left)
