"""The seam's retry rules, through the ML Commons double: what is resent, what never is, what errors become."""

from __future__ import annotations

import pytest

from opensearch_llm.client import ConnectionSettings, RetryPolicy
from opensearch_llm.errors import ClusterError, NotFoundError
from opensearch_llm.resources import connector, model, model_group
from tests.unit.ml_double import MARKER, MLDouble, double_client, sample_connector, sample_model

SETTINGS = "/_cluster/settings$"


@pytest.fixture
def double() -> MLDouble:
    return MLDouble(deploy_polls=0)


@pytest.fixture
def sleeps() -> list:
    return []


@pytest.fixture
def client(double: MLDouble, sleeps: list):
    retry = RetryPolicy(attempts=5, sleep=sleeps.append)
    return double_client(double, ConnectionSettings(url="http://double", retry=retry))


@pytest.fixture
def ids(client) -> dict:
    gid = model_group.create(client, "group", f"g {MARKER}")
    cid = connector.create(client, sample_connector())
    return {"group": gid, "connector": cid, "model": model.register(client, sample_model(cid, gid))}


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_busy_statuses(double, client, sleeps, status) -> None:
    double.fail_status("GET", SETTINGS, status, times=2)
    assert "persistent" in client.cluster.get_settings()
    assert double.count("GET", SETTINGS) == 3 and len(sleeps) == 2


def test_429_waits_for_retry_after(double, client, sleeps) -> None:
    double.fail_status("GET", SETTINGS, 429, headers={"Retry-After": "7"})
    client.cluster.get_settings()
    assert sleeps == [7.0]


@pytest.mark.parametrize("fail", ["fail_unreachable", "fail_timeout"])
def test_get_is_retried_on_connection_errors_and_timeouts(double, client, fail) -> None:
    getattr(double, fail)("GET", SETTINGS, times=3)
    client.cluster.get_settings()
    assert double.count("GET", SETTINGS) == 4


def test_retries_stop_after_the_policy_attempts(double, client, sleeps) -> None:
    double.fail_status("GET", SETTINGS, 503, times=None)
    with pytest.raises(ClusterError) as exc:
        client.cluster.get_settings()
    assert exc.value.status == 503 and exc.value.method == "GET" and exc.value.path == "/_cluster/settings"
    assert double.count("GET", SETTINGS) == 5 and len(sleeps) == 4


@pytest.mark.parametrize("status", [400, 401, 403, 409, 500])
def test_get_is_not_retried_on_other_statuses(double, client, status) -> None:
    double.fail_status("GET", SETTINGS, status)
    with pytest.raises(ClusterError) as exc:
        client.cluster.get_settings()
    assert exc.value.status == status and double.count("GET", SETTINGS) == 1


CREATES = {
    "connector": (r"/connectors/_create$", lambda c, ids: connector.create(c, sample_connector())),
    "model group": (r"/model_groups/_register$", lambda c, ids: model_group.create(c, "another", "x")),
    "model": (r"/models/_register$", lambda c, ids: model.register(c, sample_model(ids["connector"]))),
    "predict": (r"/_predict$", lambda c, ids: c.plugins.ml.predict_model(model_id=ids["model"],
                                                                           body={"parameters": {}})),
}


@pytest.mark.parametrize("what", sorted(CREATES))
def test_post_with_effects_is_not_resent_after_a_timeout(double, client, ids, what) -> None:
    path, call = CREATES[what]
    before = double.count("POST", path)
    double.fail_timeout("POST", path)
    with pytest.raises(ClusterError) as exc:
        call(client, ids)
    assert exc.value.status is None
    assert double.count("POST", path) == before + 1
    assert double.requests("POST", path)[-1].applied  # the server acted; the client gave up


@pytest.mark.parametrize("what", sorted(CREATES))
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_post_with_effects_is_not_resent_after_a_5xx(double, client, ids, what, status) -> None:
    path, call = CREATES[what]
    before = double.count("POST", path)
    double.fail_status("POST", path, status)
    with pytest.raises(ClusterError) as exc:
        call(client, ids)
    assert exc.value.status == status and double.count("POST", path) == before + 1


def test_post_create_is_not_resent_even_when_it_never_arrived(double, client) -> None:
    double.fail_unreachable("POST", r"/connectors/_create$")
    with pytest.raises(ClusterError) as exc:
        connector.create(client, sample_connector())
    assert exc.value.status is None and exc.value.reached is False
    assert double.count("POST", r"/_create$") == 1 and not double.connectors


def test_a_timeout_is_reported_as_reached(double, client) -> None:
    double.fail_timeout("POST", r"/connectors/_create$")
    with pytest.raises(ClusterError) as exc:
        connector.create(client, sample_connector())
    assert exc.value.reached is True and len(double.connectors) == 1


@pytest.mark.parametrize("path", [r"/connectors/_search$", r"/models/_search$", r"/model_groups/_search$"])
def test_post_search_is_retried(double, client, ids, path) -> None:
    double.fail_status("POST", path, 503)
    double.fail_timeout("POST", path)
    lister = {"connectors": connector, "models": model, "model_groups": model_group}[path.split("/")[1]]
    assert len(lister.list_marked(client)) == 1
    assert double.count("POST", path) == 3


@pytest.mark.parametrize("suffix", ["_deploy", "_undeploy"])
def test_post_deploy_and_undeploy_are_retried(double, client, ids, suffix) -> None:
    path = f"/models/{ids['model']}/{suffix}$"
    double.fail_status("POST", path, 502)
    getattr(client.plugins.ml, f"{suffix[1:]}_model")(model_id=ids["model"])
    assert double.count("POST", path) == 2


def test_delete_is_retried_after_a_timeout_and_tolerates_the_second_answer(double, client, ids) -> None:
    path = f"/connectors/{ids['connector']}$"
    model.undeploy(client, ids["model"])
    client.plugins.ml.delete_model(model_id=ids["model"])
    double.fail_timeout("DELETE", path)  # deleted on the first try, the answer was lost
    assert connector.delete(client, ids["connector"]) is False  # the resend reads not_found
    assert double.count("DELETE", path) == 2 and not double.connectors


def test_put_is_retried(double, client) -> None:
    double.fail_unreachable("PUT", SETTINGS)
    client.cluster.put_settings(body={"persistent": {"plugins.ml_commons.connector.private_ip_enabled": True}})
    assert double.count("PUT", SETTINGS) == 2 and double.persistent


def test_404_is_not_found_error(double, client) -> None:
    with pytest.raises(NotFoundError) as exc:
        client.plugins.ml.get_model(model_id="missing")
    assert exc.value.status == 404 and exc.value.message == "Failed to find model"
    assert double.count("GET", "/models/missing$") == 1


def test_error_reason_and_masked_excerpt(double, client) -> None:
    double.fail_status("GET", SETTINGS, 400, body={"error": {"type": "x", "reason": "bad thing sk-abc"}, "status": 400})
    with pytest.raises(ClusterError) as exc:
        client.cluster.get_settings()
    assert exc.value.message == "bad thing sk-abc" and '"reason": "bad thing sk-abc"' in exc.value.body_excerpt


@pytest.mark.parametrize("content_type", ["application/json", "text/html; charset=utf-8"])
def test_a_200_that_is_not_json_is_a_cluster_error(double, client, content_type) -> None:
    double.fail_garbage("GET", SETTINGS, content_type=content_type)
    with pytest.raises(ClusterError) as exc:
        client.cluster.get_settings()
    assert "not JSON" in exc.value.message and exc.value.method == "GET"
