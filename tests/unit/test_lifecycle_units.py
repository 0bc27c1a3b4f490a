"""apply, rollback, teardown, removal, settings restore and journal, without a node: the ML Commons double.

These fail when rollback or restore break: every test asserts the cluster state afterwards, not
just the absence of an exception.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.blueprint.identity import load_identity
from opensearch_llm.errors import ClusterError, DeployError, LeftoversError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.journal import Journal, journal_dir, journal_dirs, outcome, runs, state_dir
from opensearch_llm.lifecycle.plan import UPDATE
from opensearch_llm.resources import settings
from opensearch_llm.resources.model import NOT_DEPLOYED_TO_DELETE
from tests.unit.ml_double import MLDouble, double_client

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-unit-lifecycle-secret-0042"


def blueprint(base_url: str = "https://api.deepseek.com", path: str = "deepseek-chat.yaml", **env: str):
    return load_blueprint(ROOT / "connectors" / path, env_file=False,
                          env={"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": base_url, **env})


@pytest.fixture
def double() -> MLDouble:
    return MLDouble(deploy_polls=1)


@pytest.fixture
def client(double: MLDouble):
    return double_client(double)


@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)


def snapshot(double: MLDouble) -> dict:
    return {k: v for k, v in double.persistent.items()}


def nothing_left(double: MLDouble) -> bool:
    return not (double.models or double.connectors or double.model_groups)


def test_up_then_down_leaves_the_cluster_as_it_was(double, client, options) -> None:
    before = snapshot(double)
    result = api.up(client, blueprint(), options=options, smoke=False)
    assert result.provisioned.model_state == "DEPLOYED"
    assert snapshot(double) != before
    assert api.down(client, blueprint(), options=options).clean
    assert nothing_left(double) and snapshot(double) == before


def test_failed_register_rolls_back_everything_and_says_so(double, client, options) -> None:
    before = snapshot(double)
    double.fail_status("POST", r"/models/_register$", 400, times=None)
    with pytest.raises(ClusterError) as caught:
        api.up(client, blueprint(), options=options, smoke=False)
    notes = "\n".join(caught.value.__notes__)
    assert "rolled back this run: deleted connector" in notes
    assert nothing_left(double) and snapshot(double) == before


def test_rollback_that_cannot_delete_names_what_is_left_and_exits_3(double, client, options) -> None:
    double.fail_status("GET", r"/_plugins/_ml/models/[^/_]+$", 200, body={"model_state": "DEPLOY_FAILED"},
                       times=None)
    double.fail_status("DELETE", r"/_plugins/_ml/models/", 500, times=None)
    with pytest.raises(LeftoversError) as caught:
        api.up(client, blueprint(), options=options, smoke=False)
    assert caught.value.exit_code == 3
    assert "rollback incomplete" in str(caught.value) and "sweep --run" in str(caught.value)
    assert not any("rolled back this run" in n for n in getattr(caught.value, "__notes__", []))
    assert double.models, "the model really is still there"


def test_a_deploy_finishing_after_the_undeploy_is_undeployed_again(double, client, options) -> None:
    double.fail_status("DELETE", r"/_plugins/_ml/models/", 400,
                       body={"error": {"reason": NOT_DEPLOYED_TO_DELETE, "type": "illegal_argument"}}, times=3)
    api.up(client, blueprint(), options=options, smoke=False)
    report = api.down(client, blueprint(), options=options)
    assert report.clean and nothing_left(double)
    assert double.count("POST", r"/_undeploy$") >= 4  # one per refused delete, plus the first


def test_down_switches_the_model_off_before_undeploying(double, client, options) -> None:
    api.up(client, blueprint(), options=options, smoke=False)
    double.requests().clear() if hasattr(double.requests(), "clear") else None
    api.down(client, blueprint(), options=options)
    calls = [(r.method, r.path) for r in double.requests() if "/_plugins/_ml/models/" in r.path]
    update = next(i for i, c in enumerate(calls) if c[0] == "PUT")
    undeploy = next(i for i, c in enumerate(calls) if c[1].endswith("/_undeploy"))
    assert update < undeploy
    put = next(r for r in double.requests() if r.method == "PUT" and "/_plugins/_ml/models/" in r.path)
    assert put.body == {"is_enabled": False, "deploy_setting": {"is_auto_deploy_enabled": False}}


def test_fallback_settings_write_is_journaled_and_restored(double, client, options) -> None:
    before = snapshot(double)
    double.fail_status("POST", r"/connectors/_create$", 400,
                       body={"error": {"reason": "Connector endpoint is not matching the trusted connector "
                                                 "endpoint regex", "type": "illegal_argument"}}, times=1)
    result = api.up(client, blueprint(), options=options, smoke=False)
    journal = Journal.find(journal_dirs(override=options.journal_dir), result.plan.run_id)
    # the settings are read again before the retry: they already trust the endpoint, so nothing more is written
    assert [e.get("seq") for e in journal.entries() if e["event"] == "settings"] == [0]
    assert result.provisioned.ids["connector"] in double.connectors
    assert api.down(client, blueprint(), options=options).clean
    assert snapshot(double) == before


def test_restore_keeps_entries_another_run_still_needs(double, client, options) -> None:
    before = snapshot(double)
    api.up(client, blueprint(), options=options, smoke=False)
    other = blueprint(path="deepseek-reasoner.yaml")
    api.up(client, other, options=options, smoke=False)
    first = api.down(client, blueprint(), options=options)
    assert first.clean
    assert any("another run" in n for n in first.notes)
    assert settings.endpoint_regex("https://api.deepseek.com/x") in double.persistent[settings.TRUSTED]
    assert api.down(client, other, options=options).clean
    assert snapshot(double) == before


def test_settings_wait_while_a_connector_of_the_run_is_left(double, client, options) -> None:
    before = snapshot(double)
    result = api.up(client, blueprint(), options=options, smoke=False)
    fault = double.fail_status("DELETE", r"/_plugins/_ml/connectors/", 500, times=None)
    report = api.down(client, run_id=result.plan.run_id, options=options)
    assert not report.clean and double.connectors
    assert snapshot(double) != before, "settings restored while the connector still needs them"
    double.clear_faults()
    assert fault.hits > 0
    swept = api.sweep(client, delete=True, options=options)
    assert not swept.errors and nothing_left(double)
    assert snapshot(double) == before


def test_sweep_takes_smoke_and_failed_runs_but_not_up_deployments(double, client, options) -> None:
    api.up(client, blueprint(), options=options, smoke=False)
    double.fail_status("GET", r"/_plugins/_ml/models/[^/_]+$", 200, body={"model_state": "DEPLOY_FAILED"},
                       times=1)
    double.fail_status("DELETE", r"/_plugins/_ml/model_groups/", 500, times=None)
    with pytest.raises(LeftoversError):
        api.up(client, blueprint(path="deepseek-reasoner.yaml"), options=options, smoke=False)
    double.clear_faults()
    listed = api.sweep(client, options=options)
    assert {r["blueprint"] for r in listed.found} == {"deepseek-reasoner"}, "a failed run is a leftover"
    assert listed.kept == 3
    assert api.sweep(client, delete=True, options=options).leftovers == []
    assert {d["name"] for d in double.models.values()} == {"deepseek-chat"}
    assert api.sweep(client, api_filters(include_up=True), delete=True, options=options).leftovers == []
    assert nothing_left(double)


def api_filters(**kwargs):
    from opensearch_llm.sweep import Filters

    return Filters(**kwargs)


def test_sweep_of_garbage_answers_reports_instead_of_hanging(double, client, options) -> None:
    api.up(client, blueprint(), options=options, smoke=False)
    double.fail_garbage("*", r".*", times=None)
    report = api.sweep(client, api_filters(include_up=True), delete=True, options=options)
    assert report.errors and "not JSON" in report.errors[0]


def test_sweep_worker_failures_are_reported_and_the_sweep_ends(double, client, options) -> None:
    api.up(client, blueprint(), options=options, smoke=False)
    double.fail_garbage("DELETE", r"/_plugins/_ml/", times=None)
    report = api.sweep(client, api_filters(include_up=True), delete=True, options=options, deadline=30)
    assert len([e for e in report.errors if "not JSON" in e]) >= 2
    assert report.leftovers


def test_deploy_failed_without_rollback_keeps_the_resources(double, client, options) -> None:
    from dataclasses import replace

    double.fail_status("GET", r"/_plugins/_ml/models/[^/_]+$", 200, body={"model_state": "DEPLOY_FAILED"},
                       times=None)
    with pytest.raises(DeployError) as caught:
        api.up(client, blueprint(), options=replace(options, keep_on_failure=True), smoke=False)
    assert "down --run" in "\n".join(caught.value.__notes__) and double.models


def test_down_needs_names_only(tmp_path: Path) -> None:
    identity = load_identity(ROOT / "connectors" / "deepseek-chat.yaml", env={}, env_file=False,
                             overrides=["model.name=custom"])
    assert (identity.name, identity.model.name, identity.connector.name) == ("deepseek-chat", "custom",
                                                                             "deepseek-chat")


def test_plan_shows_the_settings_write_without_the_key(double, client, options) -> None:
    the_plan = api.plan(client, blueprint(), options=options)
    assert the_plan.action("settings").op == UPDATE
    assert KEY not in str(the_plan.to_dict())


def test_journal_location_and_outcomes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"HOME": str(tmp_path)}
    assert state_dir(env) == tmp_path / ".local" / "state" / "opensearch-llm"
    assert state_dir({**env, "XDG_STATE_HOME": "/x"}) == Path("/x/opensearch-llm")
    assert journal_dir({**env, "OPENSEARCH_LLM_STATE_DIR": "/s"}) == Path("/s/runs")
    assert journal_dir({**env, "OPENSEARCH_LLM_JOURNAL_DIR": "/j", "OPENSEARCH_LLM_STATE_DIR": "/s"}) == Path("/j")
    monkeypatch.chdir(tmp_path)
    legacy = tmp_path / ".opensearch-llm" / "runs"
    Journal.open(legacy, "20260101T000000-aaaaaa").write("start", blueprint="x", mode="up")
    dirs = journal_dirs({"OPENSEARCH_LLM_STATE_DIR": str(tmp_path / "state")})
    assert [j.run_id for j in runs(dirs)] == ["20260101T000000-aaaaaa"], "the old location is still read"
    assert outcome([{"event": "start"}]) == "unfinished"
    assert outcome([{"event": "start"}, {"event": "applied"}]) == "applied"
    assert outcome([{"event": "start"}, {"event": "failed"}]) == "failed"
    assert outcome([]) is None


def test_debug_logs_through_the_seam_never_show_the_key(double, client, options,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("opensearch").setLevel(logging.DEBUG)
        api.up(client, blueprint(), options=options, smoke=False)
        try:
            raise RuntimeError(f"boom {KEY}")
        except RuntimeError:
            logging.getLogger("anything").exception("failed with %s", KEY)
    assert KEY not in caplog.text
    assert "***" in caplog.text


def test_a_journal_of_another_cluster_never_restores_settings_here(client, options) -> None:
    cluster_a = MLDouble(deploy_polls=1)
    cluster_a.node_id, cluster_a.cluster_uuid = "node-of-a", "cluster-a"
    cluster_b = MLDouble(deploy_polls=1)
    cluster_b.node_id, cluster_b.cluster_uuid = "node-of-b", "cluster-b"
    a, b = double_client(cluster_a), double_client(cluster_b)
    before_a = snapshot(cluster_a)
    api.up(a, blueprint(), options=options, smoke=False)
    cluster_b.persistent.update(cluster_a.persistent)  # B happens to hold the same entries
    changed_b = snapshot(cluster_b)
    swept = api.sweep(b, api_filters(include_up=True), delete=True, options=options)
    assert not swept.errors and snapshot(cluster_b) == changed_b, "A's journal restored settings on B"
    assert api.down(a, blueprint(), options=options).clean
    assert snapshot(cluster_a) == before_a, "A's restore was used up on B"


def test_a_failed_smoke_whose_rollback_leaves_something_exits_3(double, client, options) -> None:
    double.fail_status("POST", r"/_predict$", 500, times=None)
    double.fail_status("DELETE", r"/_plugins/_ml/model_groups/", 500, times=None)
    with pytest.raises(LeftoversError) as caught:
        api.up(client, blueprint(), options=options)
    assert caught.value.exit_code == 3 and "rollback incomplete" in str(caught.value)
    assert double.model_groups and not double.models


def test_a_failed_smoke_kept_on_failure_is_a_leftover_for_sweep(double, client, options) -> None:
    from dataclasses import replace

    double.fail_status("POST", r"/_predict$", 500, times=1)
    with pytest.raises(Exception):
        api.up(client, blueprint(), options=replace(options, keep_on_failure=True))
    assert double.models
    assert len(api.sweep(client, options=options).found) == 3


def test_predict_is_sent_once_after_a_timeout_and_resent_only_when_never_sent(double, client, options) -> None:
    from opensearch_llm.resources.predict import predict

    result = api.up(client, blueprint(), options=options, smoke=False)
    model_id = result.provisioned.ids["model"]
    double.fail_timeout("POST", r"/_predict$")
    with pytest.raises(ClusterError, match="the model call may still have run"):
        predict(client, model_id, {"messages": []}, timeout=2, sleep=lambda s: None)
    assert double.count("POST", r"/_predict$") == 1
    double.fail_unreachable("POST", r"/_predict$", times=2)
    predict(client, model_id, {"messages": []}, timeout=2, sleep=lambda s: None)
    assert double.count("POST", r"/_predict$") == 4  # 1 before + 2 never sent + 1 answered


def test_records_without_a_secret_keep_their_template(caplog: pytest.LogCaptureFixture) -> None:
    blueprint()  # registers KEY
    with caplog.at_level(logging.INFO):
        logging.getLogger("some.library").info("user %s did %d things", "ann", 3)
        logging.getLogger("some.library").info("key is %s", KEY)
    plain, secret = caplog.records[-2:]
    assert plain.msg == "user %s did %d things" and plain.args == ("ann", 3)
    assert KEY not in secret.getMessage() and "***" in secret.getMessage()


def test_sweep_returns_at_its_deadline_while_a_delete_hangs(double, client, options,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from opensearch_llm.lifecycle import pipeline

    api.up(client, blueprint(), options=options, smoke=False)
    release = threading.Event()
    monkeypatch.setattr(pipeline, "retry_transient", lambda *args: release.wait(60))
    try:
        report = api.sweep(client, api_filters(include_up=True), delete=True, options=options, deadline=0.5)
    finally:
        release.set()
    assert any("deadline reached" in e for e in report.errors)
    assert {r["kind"] for r in report.leftovers} == {"model", "connector", "model_group"}


def test_a_changed_connector_switches_the_live_model_and_keeps_its_id(double, client, options) -> None:
    first = api.up(client, blueprint(), options=options)
    changed = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                             env={"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": "https://api.deepseek.com"},
                             overrides=["connector.parameters.max_tokens=64"])
    second = api.up(client, changed, options=options)
    assert second.provisioned.ids["model"] == first.provisioned.ids["model"]
    assert second.provisioned.switched and second.provisioned.switched.old == first.provisioned.ids["connector"]
    assert list(double.connectors) == [second.provisioned.ids["connector"]], "the old connector is gone"
    assert double.models[first.provisioned.ids["model"]]["connector_id"] == second.provisioned.ids["connector"]
    assert not [m for m in double.models if m != first.provisioned.ids["model"]], "the candidate model is gone"


def test_a_rotation_whose_new_key_fails_leaves_the_live_model_as_it_was(double, client, options) -> None:
    first = api.up(client, blueprint(), options=options)
    model_id, connector_id = first.provisioned.ids["model"], first.provisioned.ids["connector"]
    double.fail_status("POST", r"/_predict$", 401, times=1,
                       body={"error": {"reason": "Error from remote service: {\"error\": {\"message\": \"bad key\"}}",
                                       "type": "status_exception"}, "status": 401})
    with pytest.raises(Exception, match="bad key") as caught:
        api.rotate(client, blueprint(), options=options)
    assert "kept answering" in "\n".join(caught.value.__notes__)
    assert double.models[model_id]["connector_id"] == connector_id
    assert list(double.connectors) == [connector_id] and list(double.models) == [model_id]
    assert double.count("PUT", rf"/_plugins/_ml/models/{model_id}$") == 0, "the live model was never touched"


def test_a_connector_left_without_its_model_group_is_found_and_reused_by_the_next_up(double, client,
                                                                                     options) -> None:
    # the planner skips the model search where no model group of the blueprint exists, never the connector
    # search: a rollback (or `down --run` of an older run) can leave our connector without its group
    double.fail_status("POST", r"/_predict$", 500, times=1)
    double.fail_status("DELETE", r"/_plugins/_ml/connectors/", 500, times=None)
    with pytest.raises(LeftoversError) as caught:
        api.up(client, blueprint(), options=options)
    assert caught.value.exit_code == 3
    # the group stays with its connector: its marker holds the settings record that connector needs
    assert {d["kind"] for d in caught.value.leftovers} == {"connector", "model_group"}
    left_connector = next(iter(double.connectors))
    double.clear_faults()
    double.model_groups.clear()  # as an older version's rollback or `down --run` left it: a connector alone
    assert not double.models
    result = api.up(client, blueprint(), options=options)
    assert result.provisioned.ids["connector"] == left_connector and len(double.connectors) == 1
    assert api.down(client, blueprint(), options=options).clean
    assert not double.connectors and not double.model_groups


def test_down_after_every_node_was_replaced_still_restores_the_settings(options) -> None:
    # blue/green: new nodes (new node ids) join, the old ones leave; the cluster UUID stays
    cluster = MLDouble(deploy_polls=1)
    cluster.node_id, cluster.cluster_uuid = "old-node", "the-cluster"
    client = double_client(cluster)
    before = snapshot(cluster)
    api.up(client, blueprint(), options=options, smoke=False)
    assert snapshot(cluster) != before
    cluster.node_id = "new-node"
    assert api.down(client, blueprint(), options=options).clean
    assert snapshot(cluster) == before



def test_two_downs_at_once_each_keeping_private_ips_for_the_other_still_restore_them(double, client,
                                                                                     options) -> None:
    """Both downs listed the cluster while the other's group was there (the CI failure of stop 27: a RAG and an
    agent run, each recording feature flags): the one that restores last must list again, see the other gone,
    and turn private IPs and the flags back off."""
    from opensearch_llm.blueprint.consumers import AGENT_FLAG, RAG_FLAG
    from opensearch_llm.lifecycle.facts import all_owned
    from opensearch_llm.lifecycle.report import TeardownReport
    from opensearch_llm.lifecycle.restore import restore_recorded

    double.persistent.update({RAG_FLAG: "false", AGENT_FLAG: "false"})
    before = snapshot(double)
    api.up(client, blueprint("http://127.0.0.1:8089", "deepseek-rag.yaml"), options=options, smoke=False)
    agent = load_blueprint(ROOT / "connectors" / "ollama-agent.yaml", env_file=False,
                           env={"OLLAMA_BASE_URL": "http://127.0.0.1:8090"})
    api.up(client, agent, options=options, smoke=False)
    assert str(double.persistent.get(settings.PRIVATE_IP)).lower() == "true"
    stale = all_owned(client)
    groups = [r for r in stale if r.kind == "model_group"]
    assert len(groups) == 2
    for store in (double.models, double.connectors, double.model_groups, double.search_pipelines,
                  double.user_indices, double.agents, double.memories):
        store.clear()  # both runs' resources deleted; their listings were taken before
    for group in groups:
        deleted = TeardownReport(deleted=[{"kind": "model_group", "id": group.id}])
        report = restore_recorded(client, deleted, [group], stale, options)
        assert not report.errors, report.errors
    assert snapshot(double) == before, "private_ip_enabled or a feature flag left on"
