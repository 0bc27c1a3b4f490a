"""RAG, agent and ingest resources through plan, up, re-up, rollback, down and sweep, against the ML double.

Every test asserts the cluster state afterwards: what is ours is gone, what is not ours is untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.blueprint.consumers import MEMORY_FLAG, RAG_FLAG
from opensearch_llm.errors import ClusterError, InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.plan import CREATE, NOOP, REPLACE, UPDATE
from opensearch_llm.sweep import Filters
from tests.unit import ml_double_routes
from tests.unit.ml_double import MLDouble

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-unit-consumer-secret-0815", "DEEPSEEK_BASE_URL": "https://api.deepseek.com"}


def rag(*overrides: str):
    return load_blueprint(ROOT / "connectors" / "deepseek-rag.yaml", env=ENV, env_file=False, overrides=overrides)


def shipped(name: str, *overrides: str):
    return load_blueprint(ROOT / "connectors" / f"{name}.yaml", env={}, env_file=False, overrides=overrides)




@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)


def ours_left(double: MLDouble) -> list:
    return [*double.models, *double.connectors, *double.model_groups, *double.search_pipelines,
            *double.ingest_pipelines, *double.user_indices, *double.agents, *double.memories]


def steps(plan) -> dict:
    return {a.step: a.op for a in plan.actions}


def test_rag_up_creates_index_and_pipeline_after_the_model_and_down_removes_them(double, client, options) -> None:
    before = dict(double.persistent)
    plan = api.plan(client, rag(), options=options)
    assert [a.step for a in plan.actions] == ["settings", "model_group", "connector", "model", "rag_index",
                                              "search_pipeline", "smoke"]
    result = api.up(client, rag(), options=options, smoke=False)
    model_id = result.provisioned.ids["model"]
    docs = double.user_indices["deepseek-rag-docs"]
    assert "(opensearch-llm run:" in docs["mappings"]["_meta"]["opensearch-llm"] and len(docs["docs"]) == 3
    processor = double.search_pipelines["deepseek-rag"]["response_processors"][0]["retrieval_augmented_generation"]
    assert processor["model_id"] == model_id and processor["llm_model"] == "deepseek-flash"
    assert "(opensearch-llm run:" in double.search_pipelines["deepseek-rag"]["description"]

    again = api.plan(client, rag(), options=options)
    assert steps(again)["rag_index"] == NOOP and steps(again)["search_pipeline"] == NOOP and not again.changes

    report = api.down(client, rag(), options=options)
    assert report.clean and ours_left(double) == [] and double.persistent == before


def test_a_changed_prompt_updates_the_pipeline_in_place_and_keeps_the_index(double, client, options) -> None:
    api.up(client, rag(), options=options, smoke=False)
    changed = rag("rag.system_prompt=Be brief.")
    plan = api.plan(client, changed, options=options)
    assert steps(plan)["search_pipeline"] == UPDATE and steps(plan)["rag_index"] == NOOP and not plan.replaces
    api.up(client, changed, options=options, smoke=False)
    config = double.search_pipelines["deepseek-rag"]["response_processors"][0]["retrieval_augmented_generation"]
    assert config["system_prompt"] == "Be brief." and len(double.user_indices["deepseek-rag-docs"]["docs"]) == 3
    assert api.down(client, changed, options=options).clean and ours_left(double) == []


def test_a_same_named_index_that_is_not_ours_stops_the_plan_and_survives(double, client, options) -> None:
    double.user_indices["deepseek-rag-docs"] = {"settings": {}, "mappings": {"properties": {}}, "docs": {"1": {}}}
    with pytest.raises(InvalidInputError) as caught:
        api.up(client, rag(), options=options, smoke=False)
    assert "an index named 'deepseek-rag-docs' exists but was not created by opensearch-llm" in str(caught.value)
    assert "--set rag.index=NAME" in caught.value.hint
    assert list(double.user_indices) == ["deepseek-rag-docs"] and not double.models and not double.persistent


def test_a_user_who_may_not_read_the_index_or_pipeline_is_stopped_at_the_plan(double, client, options) -> None:
    def refused(action: str) -> dict:  # the security plugin's answer
        return {"error": {"type": "security_exception", "reason": f"no permissions for [{action}] and User "
                          "[name=ml-user, backend_roles=[], requestedTenant=null]"}, "status": 403}

    double.fail_status("GET", r"^/deepseek-rag-docs/_mapping", 403, body=refused("indices:admin/mappings/get"),
                       times=None)
    double.fail_status("GET", r"^/_search/pipeline/deepseek-rag", 403,
                       body=refused("cluster:admin/search/pipeline/get"), times=None)
    with pytest.raises(InvalidInputError) as caught:
        api.up(client, rag(), options=options, smoke=False)
    text = str(caught.value)
    assert "index deepseek-rag-docs: indices:admin/mappings/get" in text
    assert "search pipeline deepseek-rag: cluster:admin/search/pipeline/get" in text
    assert caught.value.exit_code == 2 and "docs/permissions.md" in caught.value.hint
    assert not ours_left(double) and not double.persistent


def test_hand_made_pipeline_agent_and_index_survive_down_and_sweep(double, client, options) -> None:
    double.user_indices["mine"] = {"settings": {}, "mappings": {"_meta": {"team": "search"}}, "docs": {}}
    double.search_pipelines["mine"] = {"description": "hand-made", "response_processors": []}
    double.ingest_pipelines["mine"] = {"description": "hand-made", "processors": []}
    double.add("agent", {"name": "mine", "type": "flow", "description": "hand-made", "tools": []}, rid="AGENT-MINE")
    api.up(client, rag(), options=options, smoke=False)
    api.up(client, shipped("ollama-agent"), options=options, smoke=False)
    assert api.down(client, rag(), options=options).clean
    api.sweep(client, Filters(include_up=True), delete=True, options=options)
    assert list(double.user_indices) == ["mine"] and list(double.search_pipelines) == ["mine"]
    assert list(double.ingest_pipelines) == ["mine"] and list(double.agents) == ["AGENT-MINE"]
    assert not double.models and not double.connectors and not double.model_groups


@pytest.mark.parametrize("path", [r"/_search/pipeline/", r"/deepseek-rag-docs$", r"/_bulk"])
def test_a_failure_at_a_consumer_step_rolls_back_everything_the_run_created(double, client, options, path) -> None:
    before = dict(double.persistent)
    double.fail_status("PUT" if "_bulk" not in path else "POST", path, 400, times=None)
    with pytest.raises(ClusterError) as caught:
        api.up(client, rag(), options=options, smoke=False)
    assert "rolled back this run" in "\n".join(caught.value.__notes__)
    assert ours_left(double) == [] and double.persistent == before


def test_a_feature_flag_that_is_off_is_turned_on_and_restored(double, client, options) -> None:
    double.persistent[RAG_FLAG] = "false"
    plan = api.plan(client, rag(), options=options)
    assert plan.action("settings").detail["feature_flags_on"] == [RAG_FLAG]
    api.up(client, rag(), options=options, smoke=False)
    assert str(double.persistent[RAG_FLAG]).lower() == "true" and MEMORY_FLAG not in double.persistent
    assert api.down(client, rag(), options=options).clean
    assert double.persistent[RAG_FLAG] == "false"


def test_agent_up_registers_the_model_as_tool_and_a_changed_agent_needs_replace(double, client, options) -> None:
    bp = shipped("ollama-agent")
    result = api.up(client, bp, options=options, smoke=False)
    [agent] = double.agents.values()
    assert agent["tools"][0]["parameters"]["model_id"] == result.provisioned.ids["model"]
    assert agent["memory"] == {"type": "conversation_index"} and "(opensearch-llm run:" in agent["description"]
    changed = shipped("ollama-agent", "agent.tool.name=reply")
    plan = api.plan(client, changed, options=options)
    assert steps(plan)["agent"] == REPLACE and plan.replaces
    with pytest.raises(InvalidInputError, match="would be replaced with a new agent_id"):
        api.up(client, changed, options=options, smoke=False)
    api.up(client, changed, options=options, smoke=False, replace=True)
    [replaced] = double.agents.values()
    assert replaced["tools"][0]["name"] == "reply"
    assert api.down(client, changed, options=options).clean and ours_left(double) == []


def test_ingest_needs_the_knn_plugin(double, client, options, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ml_double_routes, "PLUGINS", ("opensearch-job-scheduler", "opensearch-ml"))
    with pytest.raises(InvalidInputError, match=r"ingest needs the k-NN plugin \(opensearch-knn\)"):
        api.up(client, shipped("ollama-embed", "ingest.dimension=8"), options=options, smoke=False)
    assert ours_left(double) == [] and not double.persistent


def test_ingest_up_creates_pipeline_then_index_with_it_as_default(double, client, options) -> None:
    bp = shipped("ollama-embed", "ingest.dimension=8")
    assert [a.step for a in api.plan(client, bp, options=options).actions][4:6] == ["ingest_pipeline", "ingest_index"]
    result = api.up(client, bp, options=options, smoke=False)
    processor = double.ingest_pipelines["ollama-embed-ingest"]["processors"][0]["ml_inference"]
    assert processor["model_id"] == result.provisioned.ids["model"]
    index = double.user_indices["ollama-embed-docs"]
    assert index["settings"]["index.default_pipeline"] == "ollama-embed-ingest" and len(index["docs"]) == 3
    assert steps(api.plan(client, bp, options=options))["ingest_pipeline"] == NOOP
    assert api.down(client, bp, options=options).clean and ours_left(double) == []


def test_smoke_mode_gives_consumers_run_scoped_names(double, client, options) -> None:
    plan = api.plan(client, rag(), options=options, mode="smoke", run_id="20261130T000000-aaaaaa")
    assert {a.step: a.name for a in plan.actions}["rag_index"] == "deepseek-rag-docs-20261130t000000-aaaaaa"
    assert steps(plan)["rag_index"] == CREATE
