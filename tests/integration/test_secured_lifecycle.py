"""Issue 13 on a real secured node (2.19.1 + security plugin): TLS errors that name the fix, a refused password,
an ml_full_access user next to an admin, ownership per user, model access control."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.integration.cli_helpers import Cli

DEEPSEEK = "deepseek-chat"


@pytest.fixture
def secured(opensearch_secured_node: Any, fake_deepseek: Any, tmp_path: Path) -> Iterator[dict]:
    """CLIs for the admin and the ml user (own state directories), and an admin client; clean before and after."""
    from opensearch_llm.client import ConnectionSettings, connect

    node = opensearch_secured_node
    base = {"OPENSEARCH_URL": node.url, "OPENSEARCH_CA_CERTS": node.ca_certs, "DEEPSEEK_API_KEY": fake_deepseek.api_key,
            "DEEPSEEK_BASE_URL": fake_deepseek.url}
    secrets = [fake_deepseek.api_key, node.password, node.ml_password]
    (tmp_path / "admin").mkdir()
    (tmp_path / "user").mkdir()
    admin = Cli(tmp_path / "admin", {**base, "OPENSEARCH_USERNAME": node.username, "OPENSEARCH_PASSWORD": node.password,
                                     "OPENSEARCH_LLM_STATE_DIR": str(tmp_path / "admin-state")}, secrets)
    user = Cli(tmp_path / "user", {**base, "OPENSEARCH_USERNAME": node.ml_user, "OPENSEARCH_PASSWORD": node.ml_password,
                                   "OPENSEARCH_LLM_STATE_DIR": str(tmp_path / "user-state")}, secrets)
    client = connect(ConnectionSettings(url=node.url, username=node.username, password=node.password,
                                        ca_certs=node.ca_certs))
    before = client.cluster.get_settings(flat_settings=True)["persistent"]
    assert admin("status", "--all-users", "--json").json() == []
    yield {"admin": admin, "user": user, "client": client, "before": before}
    left = admin("status", "--all-users", "--json").json()
    if left:
        admin("sweep", "--all-users", "--include-up", "--yes")
    extra = {k: None for k in client.cluster.get_settings(flat_settings=True)["persistent"]
             if k not in before and k.startswith("plugins.ml_commons")}
    if extra:  # model access control switched on by a test
        client.cluster.put_settings(body={"persistent": extra})
    assert left == [], f"left behind: {left}"


def test_admin_lifecycle_with_the_ca(secured: dict) -> None:
    admin = secured["admin"]
    for args in (("up", DEEPSEEK), ("predict", DEEPSEEK, "--message", "hi"), ("smoke", DEEPSEEK),
                 ("down", DEEPSEEK), ("sweep", "--yes")):
        result = admin("-vv", *args)
        assert result.code == 0, result
    assert secured["client"].cluster.get_settings(flat_settings=True)["persistent"] == secured["before"]


def test_without_the_ca_or_with_a_wrong_password_the_message_names_the_fix(secured: dict) -> None:
    admin = secured["admin"]
    no_ca = admin("status", extra_env={"OPENSEARCH_CA_CERTS": ""})
    assert no_ca.code == 1 and "is not trusted" in no_ca.err and "--ca-certs" in no_ca.err, no_ca
    wrong = admin("status", extra_env={"OPENSEARCH_PASSWORD": "not-the-password-1234"})
    assert wrong.code == 1, wrong
    assert "authentication failed for user admin" in wrong.err and "OPENSEARCH_PASSWORD" in wrong.err
    plain = admin("status", extra_env={"OPENSEARCH_URL": admin.env["OPENSEARCH_URL"].replace("https:", "http:")})
    assert plain.code == 1 and "use https://" in plain.err, plain
    insecure = admin("status", "--insecure", extra_env={"OPENSEARCH_CA_CERTS": ""})
    assert insecure.code == 0, insecure
    assert insecure.err.count("warning") == 1 and "InsecureRequestWarning" not in insecure.err


def test_an_ml_user_needs_an_admin_for_the_settings_and_never_restores_them(secured: dict, tmp_path: Path) -> None:
    admin, user, client = secured["admin"], secured["user"], secured["client"]
    # the ML user's down runs elsewhere: another state directory, no provider key
    elsewhere = Cli(user.cwd, {**user.env, "OPENSEARCH_LLM_STATE_DIR": str(tmp_path / "elsewhere"),
                               "DEEPSEEK_API_KEY": ""}, user.secrets)
    plan = user("plan", DEEPSEEK)
    assert plan.code == 0, plan
    assert "needs cluster:admin/settings/update" in plan.out and "opensearch-llm settings" in plan.out
    refused = user("up", DEEPSEEK)
    assert refused.code == 2, refused
    assert admin("status", "--all-users", "--json").json() == [], "a refused up changed something"
    assert admin("settings", DEEPSEEK).code == 0
    applied = client.cluster.get_settings(flat_settings=True)["persistent"]
    for args in (("up", DEEPSEEK), ("predict", DEEPSEEK, "--message", "hi")):
        result = user(*args)
        assert result.code == 0, result
    early = admin("settings", DEEPSEEK, "--restore")
    assert early.code == 3 and "still uses it" in early.err, early  # the user's connector needs the entry
    assert client.cluster.get_settings(flat_settings=True)["persistent"] == applied
    down = elsewhere("down", DEEPSEEK)
    assert down.code == 0 and admin("status", "--all-users", "--json").json()[0]["run_kind"] == "settings", down
    assert client.cluster.get_settings(flat_settings=True)["persistent"] == applied, "the user's down restored them"
    restored = Cli(admin.cwd, {**admin.env, "OPENSEARCH_LLM_STATE_DIR": str(tmp_path / "admin-elsewhere")},
                   admin.secrets)("settings", DEEPSEEK, "--restore")
    assert restored.code == 0, restored
    assert client.cluster.get_settings(flat_settings=True)["persistent"] == secured["before"]


def test_access_control_keeps_each_user_to_their_own(secured: dict) -> None:
    admin, user, client = secured["admin"], secured["user"], secured["client"]
    client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.model_access_control_enabled": True}})
    assert admin("up", DEEPSEEK, "--no-smoke").code == 0
    admin_run = admin("status", "--json").json()[0]["run"]
    private = ("--set", "model_group.name=user-chat", "--set", "connector.name=user-chat", "--set", "model.name=user-chat",
               "--set", "model_group.access_mode=private")
    mine = user("up", DEEPSEEK, "--no-smoke", *private)
    assert mine.code == 0, mine
    owners = {r["owner"] for r in admin("status", "--all-users", "--json").json()}
    assert owners == {"admin", "ml-user"}, owners
    swept = user("sweep", "--include-up", "--yes", "--json")
    # it removes what it can see, and says it could not look at pipelines and indices (never "all clean")
    assert swept.code == 3 and "cluster:admin/search/pipeline/get" in " ".join(swept.json()["errors"]), swept
    assert {r["owner"] for r in admin("status", "--all-users", "--json").json()} == {"admin"}
    theirs = user("down", "--run", admin_run)
    assert theirs.code == 2 and "belong to admin" in theirs.err, theirs
    assert len(admin("status", "--json").json()) == 3
    assert admin("down", DEEPSEEK).code == 0
    restricted = user("validate", DEEPSEEK, "--set", "model_group.access_mode=restricted",
                      "--set", "model_group.backend_roles=[ml-team]")
    assert restricted.code == 0, restricted
    neither = user("validate", DEEPSEEK, "--set", "model_group.access_mode=restricted")
    assert neither.code == 2 and "exactly one of backend_roles" in neither.err, neither


def test_an_ml_users_failed_up_rolls_back_and_its_predict_says_what_it_cannot_see(secured: dict,
                                                                                 fake_deepseek: Any) -> None:
    admin, user, client = secured["admin"], secured["user"], secured["client"]
    assert admin("settings", DEEPSEEK).code == 0
    wrong = user("up", DEEPSEEK, "--no-preflight", extra_env={"DEEPSEEK_API_KEY": "sk-wrong-key-000000009999"})
    assert wrong.code == 1 and "rolled back this run" in wrong.err, wrong
    left = admin("status", "--all-users", "--json").json()
    assert [r["run_kind"] for r in left] == ["settings"], left  # only the admin's standing settings record
    client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.model_access_control_enabled": True}})
    private = ("--set", "model_group.access_mode=private")
    assert admin("up", DEEPSEEK, "--no-smoke", *private).code == 0
    hidden = user("predict", DEEPSEEK, "--message", "hi")
    assert hidden.code == 1 and "model access control is on" in hidden.err, hidden
    assert admin("down", DEEPSEEK).code == 0
    assert admin("settings", DEEPSEEK, "--restore").code == 0


def _documented_consumer_role() -> dict:
    """The role docs/permissions.md tells an admin to create: the test grants exactly what the doc says."""
    import json
    import re

    text = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text(encoding="utf-8")
    block = re.search(r"PUT _plugins/_security/api/roles/llm_consumers\n(\{.*?\n\})\n```", text, re.S)
    assert block, "docs/permissions.md lost the llm_consumers role"
    return json.loads(block.group(1))


def test_an_ml_user_is_told_what_a_rag_blueprint_needs_and_runs_it_with_the_documented_role(secured: dict) -> None:
    admin, user, client = secured["admin"], secured["user"], secured["client"]
    refused = user("plan", "deepseek-rag")
    assert refused.code == 2, refused
    assert "indices:admin/mappings/get" in refused.err and "cluster:admin/search/pipeline/get" in refused.err
    assert "docs/permissions.md" in refused.err, refused
    assert user("up", "deepseek-rag").code == 2
    assert admin("status", "--all-users", "--json").json() == [], "a refused plan or up changed something"
    assert admin("settings", "deepseek-rag").code == 0
    applied = client.cluster.get_settings(flat_settings=True)["persistent"]
    api = "/_plugins/_security/api"
    client.transport.perform_request("PUT", f"{api}/roles/llm_consumers", body=_documented_consumer_role())
    client.transport.perform_request("PUT", f"{api}/rolesmapping/llm_consumers", body={"users": ["ml-user"]})
    try:
        up = user("up", "deepseek-rag")
        assert up.code == 0 and "smoke rag follow-up" in up.err, up
        kinds = {row["kind"] for row in user("status", "--json").json()}
        assert {"index", "search_pipeline", "model"} <= kinds, kinds
        down = user("down", "deepseek-rag")
        assert down.code == 0, down
    finally:
        client.transport.perform_request("DELETE", f"{api}/rolesmapping/llm_consumers")
        client.transport.perform_request("DELETE", f"{api}/roles/llm_consumers")
    assert client.cluster.get_settings(flat_settings=True)["persistent"] == applied, "the user's down restored them"
    assert admin("settings", "deepseek-rag", "--restore").code == 0
    assert client.cluster.get_settings(flat_settings=True)["persistent"] == secured["before"]


def test_a_user_who_may_not_look_is_told_so_not_told_the_cluster_is_clean(secured: dict) -> None:
    user = secured["user"]
    status = user("status")
    assert status.code == 1 and "cluster:admin/search/pipeline/get" in status.err, status
    down = user("down", "deepseek-rag")
    assert down.code == 1 and ("indices" in down.err or "pipeline" in down.err), down
