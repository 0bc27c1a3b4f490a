"""The ML Commons double behaves as documented, so unit tests built on it can trust it."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from opensearch_llm.errors import ClusterError, DeployError, NotFoundError, UpstreamAuthError
from opensearch_llm.lifecycle.apply import UNTRUSTED
from opensearch_llm.lifecycle.facts import cluster_version
from opensearch_llm.resources import connector, model, model_group, settings
from opensearch_llm.resources.model import NOT_DEPLOYED_TO_DELETE, Polling
from opensearch_llm.resources.predict import predict
from opensearch_llm.secrets import Secret
from tests.unit.ml_double import MARKER, MLDouble, double_client, remote_error, sample_connector, sample_model

OLLAMA = "http://127.0.0.1:11434/api/chat"
TRUST_OLLAMA = {"persistent": {settings.TRUSTED: [r"^http://127\.0\.0\.1:11434/.*$"]}}
NO_SLEEP = Polling(sleep=lambda s: None)


@pytest.fixture
def double() -> MLDouble:
    return MLDouble()


@pytest.fixture
def client(double: MLDouble):
    return double_client(double)


def provision(client, deploy: bool = True) -> tuple:
    gid = model_group.create(client, "group", f"g {MARKER}")
    cid = connector.create(client, sample_connector())
    return gid, cid, model.register(client, sample_model(cid, gid), deploy=deploy)


def test_cluster_settings_defaults_persistent_transient_and_null_unsets(double, client) -> None:
    facts = settings.read(client)
    assert r"^https://api\.openai\.com/.*$" in facts.trusted and facts.trusted_persistent is None
    assert facts.private_ip is False
    client.cluster.put_settings(body={"persistent": {settings.TRUSTED: ["^a$"], settings.PRIVATE_IP: True}})
    raw = client.cluster.get_settings(include_defaults=True, flat_settings=True)
    assert raw["persistent"] == {settings.TRUSTED: ["^a$"], settings.PRIVATE_IP: "true"}  # echoed as strings
    assert settings.TRUSTED not in raw["defaults"]
    client.cluster.put_settings(body={"transient": {settings.PRIVATE_IP: False}})
    assert settings.read(client).private_ip is False  # transient wins
    client.cluster.put_settings(body={"persistent": {settings.TRUSTED: None}, "transient": {settings.PRIVATE_IP: None}})
    facts = settings.read(client)
    assert facts.trusted_persistent is None and facts.private_ip is True
    assert r"^https://api\.openai\.com/.*$" in facts.trusted
    nested = client.cluster.get_settings()
    assert nested["persistent"]["plugins"]["ml_commons"]["connector"]["private_ip_enabled"] == "true"


def test_info_and_plugins(client) -> None:
    assert cluster_version(client) == ("2.19.6", True)
    assert client.info()["version"]["number"] == "2.19.6"
    assert cluster_version(double_client(MLDouble(version="3.6.0", ml_plugin=False))) == ("3.6.0", False)


def test_model_groups(double, client) -> None:
    gid = model_group.create(client, "group", f"g {MARKER}")
    model_group.create(client, "foreign", "not ours")
    assert model_group.get(client, gid)["name"] == "group"
    assert [g["id"] for g in model_group.list_marked(client)] == [gid]
    assert {g["name"] for g in model_group.marked_or_named(client, "foreign")} == {"group", "foreign"}
    assert [g["id"] for g in model_group.marked_or_named(client, "grou")] == [gid]
    with pytest.raises(ClusterError, match="already being used by a model group with ID: " + gid):
        model_group.create(client, "group", "again")
    assert model_group.delete(client, gid) is True and model_group.delete(client, gid) is False
    assert model_group.get(client, gid) is None


def test_connector_trusted_regex_credential_and_delete(double, client) -> None:
    with pytest.raises(ClusterError) as refused:
        connector.create(client, sample_connector(OLLAMA))
    assert refused.value.status == 400 and UNTRUSTED in refused.value.message and OLLAMA in refused.value.message
    body = sample_connector("https://${parameters.endpoint}/v1/chat/completions", credential=Secret("sk-double-1234"))
    cid = connector.create(client, body)
    assert double.connectors[cid]["credential"] == {"openAI_key": "sk-double-1234"}  # revealed by the transport
    assert "credential" not in connector.get(client, cid)
    listed = connector.list_marked(client)
    assert [c["id"] for c in listed] == [cid] and "credential" not in listed[0]
    assert connector.delete(client, cid) is True and connector.delete(client, cid) is False
    assert connector.get(client, cid) is None


def test_connector_in_use_conflicts_and_update_refused_while_deployed(double, client) -> None:
    gid, cid, mid = provision(client)
    with pytest.raises(ClusterError) as conflict:
        connector.delete(client, cid)
    assert conflict.value.status == 409 and mid in conflict.value.message
    with pytest.raises(ClusterError, match="please undeploy the models first"):
        client.plugins.ml.update_connector(connector_id=cid, body={"description": "new"})
    model.undeploy(client, mid)
    client.plugins.ml.update_connector(connector_id=cid, body={"description": "new"})
    assert connector.get(client, cid)["description"] == "new"
    with pytest.raises(ClusterError) as in_group:
        model_group.delete(client, gid)
    assert in_group.value.status == 409


def test_connector_ids_sharing_a_token_conflict_like_ml_commons() -> None:
    ids = {"model_group": ["grp"], "connector": ["abc-L", "xyz-L"], "model": ["mod-1"]}
    double = MLDouble(id_factory=lambda kind: ids[kind].pop(0) if kind in ids else f"{kind}-id")
    client = double_client(double)
    gid = model_group.create(client, "group", f"g {MARKER}")
    first = client.plugins.ml.create_connector(body=sample_connector())["connector_id"]  # no id check
    mid = model.register(client, sample_model(first, gid))
    other = client.plugins.ml.create_connector(body=sample_connector())["connector_id"]
    with pytest.raises(ClusterError, match=mid):  # "xyz-L" shares the token "l" with the model's "abc-L"
        connector.delete(client, other)


def test_connector_create_keeps_only_ids_without_a_dash() -> None:
    ids = {"model_group": ["grp"], "connector": ["abc-L", "q-r", "abcL"], "model": ["mod1"]}
    double = MLDouble(id_factory=lambda kind: ids[kind].pop(0))
    client = double_client(double)
    assert connector.create(client, sample_connector()) == "abcL"
    assert list(double.connectors) == ["abcL"], "the ids with a dash were deleted at once"
    assert double.count("POST", r"/connectors/_create$") == 3


def test_connector_create_keeps_a_dashed_id_it_cannot_delete_or_after_every_try() -> None:
    ids = {"model_group": ["grp"], "connector": ["abc-L", "xyz-L"], "model": ["mod1"]}
    double = MLDouble(id_factory=lambda kind: ids[kind].pop(0) if kind in ids else f"{kind}1")
    client = double_client(double)
    gid = model_group.create(client, "group", f"g {MARKER}")
    first = client.plugins.ml.create_connector(body=sample_connector())["connector_id"]
    model.register(client, sample_model(first, gid))
    assert connector.create(client, sample_connector()) == "xyz-L", "a model shares its token: it cannot go"
    moving = iter(["a-bcd", "ab-cd", "abc-d", "-abcd", "abcd-"])  # a "-" in another place each time: chance
    dashed = MLDouble(id_factory=lambda kind: next(moving))
    assert "-" in connector.create(double_client(dashed), sample_connector())
    assert dashed.count("POST", r"/connectors/_create$") == connector.CREATE_TRIES and len(dashed.connectors) == 1
    made = iter(range(100))  # the "-" in the same place: part of every id this node makes, asking again is futile
    fixed = MLDouble(id_factory=lambda kind: f"id-{next(made)}")
    assert connector.create(double_client(fixed), sample_connector()) == "id-1"
    assert fixed.count("POST", r"/connectors/_create$") == 2 and list(fixed.connectors) == ["id-1"]


def test_register_deploys_after_configured_polls() -> None:
    double = MLDouble(deploy_polls=3)
    client = double_client(double)
    _, _, mid = provision(client)
    states = [model.get(client, mid)["model_state"] for _ in range(4)]
    assert states == ["DEPLOYING", "DEPLOYING", "DEPLOYING", "DEPLOYED"]
    assert model.list_marked(client)[0]["model_state"] == "DEPLOYED"
    failing = MLDouble(deploy_polls=0, deploy_result="DEPLOY_FAILED")
    fc = double_client(failing)
    _, _, bad = provision(fc)
    with pytest.raises(DeployError):
        model.wait_deployed(fc, bad, timeout=5, polling=NO_SLEEP)


def test_wait_deployed_polls_the_double(client, double) -> None:
    double.deploy_polls = 2
    _, _, mid = provision(client)
    assert model.wait_deployed(client, mid, timeout=5, polling=NO_SLEEP)["model_state"] == "DEPLOYED"
    assert double.count("GET", f"/models/{mid}$") == 3


def test_model_missing_answers_like_ml_commons(client) -> None:
    assert model.get(client, "nope") is None
    with pytest.raises(NotFoundError):
        client.plugins.ml.undeploy_model(model_id="nope")
    with pytest.raises(ClusterError, match="DeleteByQueryAction") as zip_500:
        client.plugins.ml.delete_model(model_id="nope")
    assert zip_500.value.status == 500
    with pytest.raises(NotFoundError):
        double_client(MLDouble(integ_zip=False)).plugins.ml.delete_model(model_id="nope")


def test_delete_refused_while_deployed_then_undeploy_and_bulk(double, client) -> None:
    _, _, mid = provision(client)
    with pytest.raises(ClusterError) as refused:
        client.plugins.ml.delete_model(model_id=mid)
    assert refused.value.status == 400 and NOT_DEPLOYED_TO_DELETE in refused.value.message
    other = model.register(client, sample_model(double.models[mid]["connector_id"], name="other"))
    model.deploy(client, other)
    answer = client.plugins.ml.undeploy_model(body={"model_ids": [mid, other, "missing"]})
    assert set(next(iter(answer.values()))["stats"]) == {mid, other}
    assert double.models[mid]["model_state"] == "UNDEPLOYED"
    assert client.plugins.ml.undeploy_model(model_id=mid) == {}  # exists, not deployed
    assert client.plugins.ml.delete_model(model_id=mid)["result"] == "deleted"


def test_predict_auto_deploy_disable_and_private_ip(double, client) -> None:
    _, _, mid = provision(client)
    model.undeploy(client, mid)
    answer = client.plugins.ml.predict_model(model_id=mid, body={"parameters": {"messages": []}})
    assert answer["inference_results"][0]["output"][0]["dataAsMap"]["choices"][0]["message"]["content"] == "pong"
    assert double.models[mid]["model_state"] == "DEPLOYED"  # auto-deployed (2.13+)
    client.plugins.ml.update_model(model_id=mid, body={"is_enabled": False})
    with pytest.raises(ClusterError) as disabled:
        client.plugins.ml.predict_model(model_id=mid, body={"parameters": {}})
    assert disabled.value.status == 403
    strict = MLDouble(auto_deploy=False, deploy_polls=0)
    sc = double_client(strict)
    _, _, idle = provision(sc, deploy=False)
    with pytest.raises(ClusterError, match="Model not ready yet"):
        sc.plugins.ml.predict_model(model_id=idle, body={"parameters": {}})
    sc.cluster.put_settings(body=TRUST_OLLAMA)
    local = model.register(sc, sample_model(connector.create(sc, sample_connector(OLLAMA))))
    with pytest.raises(ClusterError, match="private ip address: 127.0.0.1"):
        sc.plugins.ml.predict_model(model_id=local, body={"parameters": {}})
    sc.cluster.put_settings(body={"persistent": {settings.PRIVATE_IP: True}})
    assert sc.plugins.ml.predict_model(model_id=local, body={"parameters": {}})["inference_results"]


def test_private_ip_refused_at_create_when_asked() -> None:
    double = MLDouble(private_ip_check="create")
    client = double_client(double)
    client.cluster.put_settings(body=TRUST_OLLAMA)
    with pytest.raises(ClusterError, match="private ip address"):
        connector.create(client, sample_connector(OLLAMA))
    client.cluster.put_settings(body={"persistent": {settings.PRIVATE_IP: True}})
    assert connector.create(client, sample_connector(OLLAMA))


def test_version_3_rejects_unsafe_names() -> None:
    client = double_client(MLDouble(version="3.6.0"))
    with pytest.raises(ClusterError, match="can only contain letters, numbers, spaces, and basic punctuation"):
        model_group.create(client, "bad<name>", "x")
    assert model_group.create(client, "good name", f"ok {MARKER}")


def test_faults_recording_and_remote_errors(double, client) -> None:
    _, cid, mid = provision(client)
    double.fail_status("POST", r"/_predict$", 401, body=remote_error(401, "Incorrect API key provided"))
    with pytest.raises(UpstreamAuthError, match="Incorrect API key"):
        predict(client, mid, {"messages": []}, sleep=lambda s: None)
    double.fail_status("POST", r"/connectors/_create$", 503, after=True)
    with pytest.raises(ClusterError) as lost:
        connector.create(client, sample_connector())
    assert lost.value.status == 503 and len(double.connectors) == 2  # created although it answered 503
    rec = double.requests("POST", r"/connectors/_create$")
    assert [(r.status, r.fault, r.applied) for r in rec] == [(200, None, True), (503, "status", True)]
    assert rec[0].body["name"] == "sample connector"
    assert double.count("POST", r"/models/_register$") == 1 and double.requests()[2].params == {"deploy": "true"}
    rule = double.fail_unreachable("GET", r"/connectors/", times=None)
    for _ in range(2):
        with pytest.raises(ClusterError):
            connector.get(client, cid)
    assert rule.hits == 2 * 5 and not any(r.applied for r in double.requests("GET", "/connectors/"))


def test_concurrent_requests_are_safe(double, client) -> None:
    ids = [model_group.create(client, f"g{i}", f"g {MARKER}") for i in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda gid: model_group.delete(client, gid), ids + ids))
    assert sorted(results) == [False] * 20 + [True] * 20 and not double.model_groups
    assert double.count("DELETE") == 40
