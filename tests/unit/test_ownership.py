"""Ownership per user and the admin's `settings` command, on the ML Commons double playing a secured cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.blueprint.identity import load_identity
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.resources.security import Principal
from opensearch_llm.sweep import Filters
from tests.unit.ml_double import MLDouble, double_client

ROOT = Path(__file__).resolve().parents[2]
PATH = ROOT / "connectors" / "deepseek-chat.yaml"
ENV = {"DEEPSEEK_API_KEY": "sk-ownership-secret-0007", "DEEPSEEK_BASE_URL": "https://api.deepseek.com"}
ADMIN = {"user": "admin", "roles": ["all_access", "own_index"]}
ML_USER = {"user": "ml-user", "roles": ["ml_full_access", "own_index"], "backend_roles": []}


@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)


def as_user(double: MLDouble, caller: dict):
    double.caller = caller
    return double_client(double)


def bp(**sets: str):
    return load_blueprint(PATH, env=ENV, env_file=False, overrides=[f"{k}={v}" for k, v in sets.items()])


def test_the_marker_names_the_owner_and_others_cannot_take_it(options: RunOptions) -> None:
    double = MLDouble(deploy_polls=1)
    admin = as_user(double, ADMIN)
    result = api.up(admin, bp(), options=options, smoke=False)
    assert {r["owner"] for r in api.status(admin)} == {"admin"}
    user = as_user(double, ML_USER)
    assert api.status(user) == [] and len(api.status(user, all_users=True)) == 3
    assert api.sweep(user, Filters(include_up=True), delete=True, options=options).found == []
    with pytest.raises(InvalidInputError, match="belong to admin"):
        api.down(user, run_id=result.plan.run_id, options=options)
    with pytest.raises(InvalidInputError, match="belong to admin"):
        api.down(user, bp(), options=options)
    with pytest.raises(InvalidInputError, match="belongs to user admin"):
        api.plan(user, bp(), options=options)
    assert len(double.models) == 1
    assert api.down(as_user(double, ADMIN), bp(), options=options).clean


def test_an_ml_user_is_stopped_before_a_settings_write_it_cannot_make(options: RunOptions) -> None:
    double = MLDouble(deploy_polls=1)
    user = as_user(double, ML_USER)
    the_plan = api.plan(user, bp(), options=options)
    assert the_plan.blocked and "opensearch-llm settings" in the_plan.blocked[0]
    with pytest.raises(InvalidInputError, match="cluster:admin/settings/update"):
        api.up(user, bp(), options=options, smoke=False)
    assert not double.model_groups and double.count("PUT", r"/_cluster/settings") == 0


def test_settings_by_an_admin_then_the_users_up_and_down_leave_them(options: RunOptions) -> None:
    double = MLDouble(deploy_polls=1)
    before = dict(double.persistent)
    identity = load_identity(PATH, env={"DEEPSEEK_BASE_URL": ENV["DEEPSEEK_BASE_URL"]}, env_file=False)
    admin = as_user(double, ADMIN)
    assert api.apply_settings(admin, identity, options=options).changed
    applied = dict(double.persistent)
    user = as_user(double, ML_USER)
    assert not api.plan(user, bp(), options=options).blocked
    api.up(user, bp(), options=options, smoke=False)
    assert api.down(user, bp(), options=options).clean
    assert double.persistent == applied, "the user's down touched the admin's settings"
    assert api.sweep(user, delete=True, options=options).errors == []
    assert double.persistent == applied, "a sweep restored the admin's standing settings"
    assert api.restore_settings(as_user(double, ADMIN), identity, options=options).clean
    assert double.persistent == before


def test_known_roles_tell_who_may_update_settings() -> None:
    assert Principal("a", roles=("all_access",)).may_update_settings() is True
    assert Principal("u", roles=("ml_full_access", "own_index")).may_update_settings() is False
    assert Principal("c", roles=("ml_full_access", "platform_team")).may_update_settings() is None
