"""Deploy placement: custom plans from node names or roles, healing reasons, where a model serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api, doctor
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.facts import Facts, Node
from opensearch_llm.lifecycle.placement import ALLOW_CUSTOM, heal_reason, planned_nodes, serving_text
from opensearch_llm.resources.settings import SettingsFacts

ROOT = Path(__file__).resolve().parents[2]
NODES = (Node("id1", "node-1", ("cluster_manager", "data", "ingest")), Node("id2", "node-2", ("ml",)),
         Node("id3", "node-3", ("ml",)))


def chat(*overrides: str):
    return load_blueprint(ROOT / "connectors" / "ollama-chat.yaml", env={}, env_file=False, overrides=overrides)


def facts() -> Facts:
    return Facts("2.19.6", True, SettingsFacts((), None, False, None), nodes=NODES)


def test_nodes_by_name_or_id_and_roles_resolve_to_a_custom_plan() -> None:
    assert planned_nodes(chat("deploy.nodes=[node-2, id3]"), facts()) == NODES[1:]
    assert planned_nodes(chat("deploy.roles=[ml]"), facts()) == NODES[1:]
    assert planned_nodes(chat(), facts()) == ()


def test_an_unknown_node_or_role_stops_the_plan_naming_the_nodes() -> None:
    with pytest.raises(InvalidInputError, match=r"'node-9', not a node of this cluster \(its nodes: node-1, "):
        planned_nodes(chat("deploy.nodes=[node-9]"), facts())
    with pytest.raises(InvalidInputError, match="no node of this cluster has the role"):
        planned_nodes(chat("deploy.roles=[warm]"), facts())


def test_heal_reasons_and_serving_text() -> None:
    assert heal_reason({"model_state": "DEPLOYED", "current_worker_node_count": 2,
                        "planning_worker_node_count": 2}) is None
    assert heal_reason({"model_state": "PARTIALLY_DEPLOYED", "current_worker_node_count": 1,
                        "planning_worker_node_count": 2}) == \
        "exists but is PARTIALLY_DEPLOYED (1 of 2 planned nodes serve): deploy again"
    assert "only 1 of 3 planned nodes serve" in heal_reason({"model_state": "DEPLOYED", "current_worker_node_count": 1,
                                                             "planning_worker_node_count": 3})
    doc = {"current_worker_node_count": 2, "planning_worker_node_count": 2, "planning_worker_nodes": ["id2", "id3"]}
    assert serving_text(doc, {"id2": "node-2", "id3": "node-3"}) == "2/2 nodes: node-2, node-3"


def test_a_custom_plan_turns_allow_custom_on_deploys_to_its_nodes_and_down_restores(double, client,
                                                                                  tmp_path: Path) -> None:
    options = RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)
    bp = chat("deploy.nodes=[ml-double-node]")
    double.defaults[ALLOW_CUSTOM] = "false"
    plan = api.plan(client, bp, options=options)
    assert plan.action("settings").detail["feature_flags_on"] == [ALLOW_CUSTOM]
    model = plan.action("model")
    assert model.reason == "not found; register, then deploy to 1 node(s)" and model.detail["nodes"] == ["ml-double-node"]
    api.up(client, bp, options=options, smoke=False)
    [deploy] = double.requests("POST", r"/_deploy$")
    assert deploy.body == {"node_ids": model.detail["node_ids"]}
    assert double.requests("POST", r"/models/_register")[-1].params.get("deploy") != "true"
    report = doctor.run(client)
    assert [(m["name"], m["state"]) for m in report.models] == [("ollama-chat", "DEPLOYED")]
    assert api.down(client, bp, options=options).clean and ALLOW_CUSTOM not in double.persistent
