"""The planner is pure: (blueprint, facts) → plan, tested from recorded cluster facts."""

from __future__ import annotations

from dataclasses import replace

import json
from pathlib import Path

import pytest

from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle import plan as planner
from opensearch_llm.lifecycle.facts import Facts, Owned
from opensearch_llm.lifecycle.naming import Marker, fingerprint, names_for, parse_marker, with_marker
from opensearch_llm.resources.settings import SettingsFacts

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-unit-planner-secret-4242"
DEFAULT_TRUSTED = (r"^https://api\.openai\.com/.*$", r"^https://api\.deepseek\.com/.*$")


def blueprint(base_url: str = "http://127.0.0.1:8089", key: str = KEY):
    return load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                          env={"DEEPSEEK_API_KEY": key, "DEEPSEEK_BASE_URL": base_url})


def empty_facts(private_ip: bool = False, trusted: tuple = DEFAULT_TRUSTED) -> Facts:
    return Facts(version="2.19.6", ml_present=True,
                 settings=SettingsFacts(trusted=trusted, trusted_persistent=None, private_ip=private_ip,
                                        private_ip_persistent=None))


def provisioned_facts(bp, state: str = "DEPLOYED", connector_hash: str | None = None) -> Facts:
    names = names_for(bp)
    c_hash = connector_hash or fingerprint(bp.connector.body)
    m_hash = planner.model_fingerprint(bp)
    marker = Marker("20261121T000000-aaaaaa", bp.name, "2026-11-21T00:00:00Z")
    regex = r"^http://127\.0\.0\.1:8089/.*$"
    return Facts(
        version="3.6.0", ml_present=True,
        settings=SettingsFacts(trusted=(*DEFAULT_TRUSTED, regex), trusted_persistent=(*DEFAULT_TRUSTED, regex),
                               private_ip=True, private_ip_persistent="true"),
        model_group=Owned("model_group", "g1", names.model_group, marker),
        connector=Owned("connector", "c1", names.connector,
                        Marker(marker.run, bp.name, marker.created, c_hash), live_connector(bp)),
        model=Owned("model", "m1", names.model, Marker(marker.run, bp.name, marker.created, m_hash),
                    {"model_state": state, "model_group_id": "g1"}),
    )


def live_connector(bp) -> dict:
    """The connector as ML Commons returns it: parameters as strings, action types upper-cased, client_config
    defaults filled in, no credential."""
    body = bp.connector.body
    return {"name": body["name"], "protocol": body.get("protocol"),
            "parameters": {k: str(v) for k, v in body.get("parameters", {}).items()},
            "actions": [{**a, "action_type": str(a["action_type"]).upper()} for a in body.get("actions", [])],
            "client_config": {"max_connection": 30, "retry_backoff_policy": "constant", "max_retry_times": 0,
                              **body.get("client_config", {})}}


def test_a_hand_edited_connector_parameter_is_drift_repaired_by_a_switch() -> None:
    bp = blueprint()
    facts = provisioned_facts(bp)
    doc = live_connector(bp)
    doc["parameters"]["max_tokens"] = "16"
    facts = replace(facts, connector=replace(facts.connector, doc=doc))
    plan = planner.build(bp, facts, names_for(bp), "run2")
    action = plan.action("connector")
    assert action.op == "switch" and plan.action("model").op == "noop", ops(plan)
    assert 'connector.parameters.max_tokens: "16" → "4096" (changed outside opensearch-llm)' in action.detail["drift"]


def test_a_hand_set_rate_limiter_is_drift_and_one_the_blueprint_lacks_needs_a_replace() -> None:
    bp = blueprint()
    facts = provisioned_facts(bp)
    model = replace(facts.model, doc={**facts.model.doc, "rate_limiter": {"limit": "4", "unit": "MINUTES"}})
    plan = planner.build(bp, replace(facts, model=model), names_for(bp), "run2")
    assert plan.action("model").op == "replace" and "rate limiter" in plan.action("model").reason


def ops(plan) -> dict:
    return {a.step: a.op for a in plan.actions}


def test_empty_cluster_plans_every_create_and_the_settings_diff() -> None:
    bp = blueprint()
    plan = planner.build(bp, empty_facts(), names_for(bp), "run1")
    assert ops(plan) == {"settings": "update", "model_group": "create", "connector": "create",
                         "model": "create", "smoke": "probe"}
    assert plan.settings_change.add_regexes == (r"^http://127\.0\.0\.1:8089/.*$",)
    assert plan.settings_change.enable_private_ip is True
    assert plan.changes


def test_plan_never_contains_the_key() -> None:
    bp = blueprint()
    plan = planner.build(bp, empty_facts(), names_for(bp), "run1")
    text = planner.render(plan) + str(plan.to_dict()) + repr(plan)
    assert KEY not in text
    assert plan.action("connector").detail["body"]["credential"] == {"api_key": "***"}


def test_public_deepseek_endpoint_needs_no_settings_change() -> None:
    bp = blueprint(base_url="https://api.deepseek.com")
    plan = planner.build(bp, empty_facts(), names_for(bp), "run1")
    assert plan.action("settings").op == "noop"
    assert not plan.settings_change.changes


def test_existing_regex_and_private_ip_mean_no_change() -> None:
    bp = blueprint()
    facts = empty_facts(private_ip=True, trusted=(*DEFAULT_TRUSTED, r"^http://127\.0\.0\.1:[0-9]+/.*$"))
    assert planner.build(bp, facts, names_for(bp), "run1").action("settings").op == "noop"


def test_wildcard_is_never_added() -> None:
    bp = blueprint()
    plan = planner.build(bp, empty_facts(), names_for(bp), "run1")
    assert all(".*" != r and r.startswith("^http://") for r in plan.settings_change.add_regexes)


def test_provisioned_blueprint_is_all_noops_with_reasons() -> None:
    bp = blueprint()
    plan = planner.build(bp, provisioned_facts(bp), names_for(bp), "run2")
    assert ops(plan) == {"settings": "noop", "model_group": "noop", "connector": "noop", "model": "noop",
                         "smoke": "probe"}
    assert all(a.reason for a in plan.actions)
    assert not plan.changes


def test_undeployed_model_is_deployed_again() -> None:
    bp = blueprint()
    plan = planner.build(bp, provisioned_facts(bp, state="UNDEPLOYED"), names_for(bp), "run2")
    assert plan.action("model").op == "deploy"
    assert "UNDEPLOYED" in plan.action("model").reason


def test_the_config_digest_is_not_derived_from_the_key() -> None:
    # nothing stored in the cluster may be derived from a secret: a digest over the key would let
    # anyone who reads model descriptions confirm a guessed key
    old = blueprint(key="sk-old-key-0000000000")
    new = blueprint(key="sk-new-key-1111111111")
    assert fingerprint(old.connector.body) == fingerprint(new.connector.body)
    plan = planner.build(new, provisioned_facts(old), names_for(old), "run2")
    assert plan.action("connector").op == "noop" and plan.action("model").op == "noop"
    assert "sk-old-key" not in json.dumps(plan.to_dict()) and "sk-new-key" not in json.dumps(plan.to_dict())


def test_a_changed_endpoint_switches_the_live_model_to_a_new_connector() -> None:
    old = blueprint()
    changed = blueprint(base_url="http://127.0.0.1:9999")
    plan = planner.build(changed, provisioned_facts(old), names_for(old), "run2")
    assert plan.action("connector").op == "switch" and plan.action("connector").detail["model"] == "m1"
    assert plan.action("model").op == "noop" and not plan.replaces


def test_changed_model_fields_update_in_place_and_a_new_group_needs_a_replace() -> None:
    old = blueprint()
    facts = provisioned_facts(old)
    limited = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                             env={"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": "http://127.0.0.1:8089"},
                             overrides=["model.rate_limiter={limit: '4', unit: MINUTES}"])
    plan = planner.build(limited, facts, names_for(old), "run2")
    assert plan.action("model").op == "update" and plan.action("connector").op == "noop"
    moved = Facts(**{**facts.__dict__, "model_group": None})
    plan = planner.build(old, moved, names_for(old), "run3")
    assert plan.action("model").op == "replace" and plan.replaces


def test_marker_records_the_run_kind_and_reads_old_markers() -> None:
    up = Marker("20261121T000000-abcdef", "deepseek-chat", "2026-11-21T00:00:00Z", "0123abcd", "up")
    smoke = Marker("20261121T000000-abcdef", "deepseek-chat", "2026-11-21T00:00:00Z", None, "smoke")
    assert parse_marker(with_marker("x", up)) == up and parse_marker(with_marker("x", smoke)) == smoke
    old = parse_marker("x (opensearch-llm run:20261121T000000-abcdef blueprint:deepseek-chat "
                       "created:2026-11-21T00:00:00Z)")
    assert old is not None and old.kind is None
    assert old.run_kind("deepseek-chat") == "up"
    assert old.run_kind("deepseek-chat-20261121T000000-abcdef") == "smoke"


def test_foreign_model_group_with_our_name_is_refused() -> None:
    bp = blueprint()
    facts = Facts(**{**empty_facts().__dict__, "foreign_group_id": "theirs"})
    with pytest.raises(InvalidInputError, match="not created by opensearch-llm"):
        planner.build(bp, facts, names_for(bp), "run1")


def test_run_scoped_names_differ_per_run() -> None:
    bp = blueprint()
    a, b = names_for(bp, "run-a"), names_for(bp, "run-b")
    assert a.model != b.model and a.connector.endswith("run-a") and names_for(bp).model == "deepseek-chat"


def test_marker_round_trips_and_ignores_foreign_descriptions() -> None:
    marker = Marker("20261121T000000-abcdef", "deepseek-chat", "2026-11-21T00:00:00Z", "0123abcd")
    assert parse_marker(with_marker("DeepSeek chat", marker)) == marker
    assert parse_marker("someone else's connector") is None
    assert parse_marker(None) is None


def test_endpoint_urls_fill_connector_parameters() -> None:
    bp = blueprint()
    assert planner.endpoint_urls(bp.connector.body) == ["http://127.0.0.1:8089/chat/completions"]
