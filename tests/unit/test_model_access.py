"""Model access control fields: validated with ML Commons' rules, refused by `plan` where the cluster has it off."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm.blueprint import load_blueprint, validate_file
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle import plan as planner
from opensearch_llm.lifecycle.facts import Facts
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.resources.settings import SettingsFacts

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-access-tests-0000"}


def with_group(tmp_path: Path, group: str) -> Path:
    text = (ROOT / "connectors" / "deepseek-chat.yaml").read_text()
    text = text.replace("model_group:\n  name: deepseek-chat\n", f"model_group:\n  name: deepseek-chat\n{group}")
    path = tmp_path / "bp.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("group, ok", [
    ("  access_mode: private\n", True),
    ("  access_mode: restricted\n  backend_roles: [ml-team]\n", True),
    ("  access_mode: restricted\n  add_all_backend_roles: true\n", True),
    ("  access_mode: restricted\n", False),
    ("  access_mode: restricted\n  backend_roles: [a]\n  add_all_backend_roles: true\n", False),
    ("  access_mode: public\n  backend_roles: [a]\n", False),
    ("  backend_roles: [a]\n", False),
    ("  access_mode: secret\n", False),
])
def test_access_fields_follow_ml_commons_rules(tmp_path: Path, group: str, ok: bool) -> None:
    problems = validate_file(with_group(tmp_path, group), env=ENV, env_file=False)
    assert (problems == []) is ok, problems
    for problem in problems:
        assert problem.line and problem.path.startswith("model_group")


def _facts(security: bool, access_control: bool) -> Facts:
    settings = SettingsFacts(trusted=(), trusted_persistent=None, private_ip=False, private_ip_persistent=None,
                             access_control=access_control)
    return Facts(version="2.19.1", ml_present=True, settings=settings, security=security)


def test_plan_refuses_access_fields_where_access_control_is_off(tmp_path: Path) -> None:
    bp = load_blueprint(with_group(tmp_path, "  access_mode: private\n"), env=ENV, env_file=False)
    for security, enabled in ((False, True), (True, False)):
        with pytest.raises(InvalidInputError, match="model access control off"):
            planner.build(bp, _facts(security, enabled), names_for(bp), "run1")
    plan = planner.build(bp, _facts(True, True), names_for(bp), "run1")
    assert plan.action("model_group").op == "create"
    assert bp.model_group.access == {"access_mode": "private"}
