"""doctor without a node: upstream checks against the offline fakes, the settings rules, rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Iterator, List

import pytest
from click.testing import CliRunner

from opensearch_llm import doctor, features
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.client import ConnectionSettings, RetryPolicy, connect
from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.features import Feature
from opensearch_llm.resources.settings import PRIVATE_IP, TRUSTED, SettingsFacts
from opensearch_llm.testing import FakeDeepSeek, FakeOllama
from opensearch_llm.testing._server import Exchange, FakeServer
from tests.helpers import FAKE_KEY as KEY, closed_port
from tests.unit.ml_double import MLDouble, double_client

ROOT = Path(__file__).resolve().parents[2]
DEEPSEEK = ROOT / "connectors" / "deepseek-chat.yaml"
OLLAMA = ROOT / "connectors" / "ollama-chat.yaml"
DEFAULT_TRUSTED = (r"^https://api\.deepseek\.com/.*$", r"^https://api\.openai\.com/.*$")


@pytest.fixture
def ollama_api() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server


def deepseek_at(url: str):  # type: ignore[no-untyped-def]
    return load_blueprint(DEEPSEEK, env={"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": url})


def ollama_at(url: str):  # type: ignore[no-untyped-def]
    return load_blueprint(OLLAMA, env={"OLLAMA_BASE_URL": url})


def state(**kw) -> doctor.ClusterState:  # type: ignore[no-untyped-def]
    facts = kw.pop("facts", SettingsFacts(trusted=DEFAULT_TRUSTED, trusted_persistent=None, private_ip=False,
                                          private_ip_persistent=None))
    return doctor.ClusterState(version=kw.pop("version", (2, 19)), settings=facts, **kw)


# --- upstream --------------------------------------------------------------------------------------------

def test_openai_compatible_upstream_answering_401_is_reachable_and_gets_no_key(deepseek_api: FakeDeepSeek) -> None:
    check = doctor.upstream_check(deepseek_at(deepseek_api.url))
    assert check.ok and check.name == "deepseek-chat: upstream"
    assert f"GET {deepseek_api.url}/models -> HTTP 401" in check.detail
    sent = deepseek_api.last_request("/models")
    assert sent is not None and "authorization" not in sent.headers
    assert KEY not in check.detail


def test_ollama_upstream_is_asked_for_its_version(ollama_api: FakeOllama) -> None:
    check = doctor.upstream_check(ollama_at(ollama_api.url))
    assert check.ok, check
    assert f"GET {ollama_api.url}/api/version -> HTTP 200" in check.detail and "Ollama " in check.detail
    assert ollama_api.last_request("/api/version") is not None


def test_an_upstream_answering_500_still_counts_as_reachable(deepseek_api: FakeDeepSeek) -> None:
    deepseek_api.fail(500)
    check = doctor.upstream_check(deepseek_at(deepseek_api.url))
    assert check.ok and "HTTP 500" in check.detail


@pytest.mark.parametrize("which, variable", [("deepseek", "DEEPSEEK_BASE_URL"), ("ollama", "OLLAMA_BASE_URL")])
def test_unreachable_upstream_fails_and_names_the_variable_to_fix(which: str, variable: str) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    bp = deepseek_at(url) if which == "deepseek" else ollama_at(url)
    check = doctor.upstream_check(bp, timeout=2)
    assert not check.ok
    assert "Connection refused" in check.detail or "Errno" in check.detail
    assert variable in check.fix
    assert ("ollama serve" in check.fix) is (which == "ollama")


def test_slow_upstream_fails_after_the_timeout(deepseek_api: FakeDeepSeek) -> None:
    deepseek_api.slow(3.0)
    check = doctor.upstream_check(deepseek_at(deepseek_api.url), timeout=0.3)
    assert not check.ok and "timed out" in check.detail.lower()


# --- settings (pure: a ClusterState in, a Check out) ---------------------------------------------------

def test_loopback_endpoint_passes_and_says_what_up_will_change() -> None:
    check = doctor.settings_check(deepseek_at("http://127.0.0.1:8089"), state())
    assert check.ok
    assert r"add trusted endpoint ^http://127\.0\.0\.1:8089/.*$" in check.detail
    assert "private_ip_enabled" in check.detail and "down restores" in check.detail


def test_already_allowed_endpoint_needs_no_change() -> None:
    check = doctor.settings_check(deepseek_at("https://api.deepseek.com"), state())
    assert check.ok and check.detail.startswith("already allowed: https://api.deepseek.com/chat/completions")


def test_disabled_remote_inference_blocks_with_the_put_that_fixes_it() -> None:
    check = doctor.settings_check(deepseek_at("https://api.deepseek.com"), state(remote_inference=False))
    assert not check.ok and "remote inference is disabled" in check.detail
    assert check.fix == 'PUT _cluster/settings {"persistent": {"plugins.ml_commons.remote_inference.enabled": true}}'


def test_transient_settings_block_because_they_override_what_up_writes() -> None:
    facts = SettingsFacts(trusted=("^https://only\\.example/.*$",), trusted_persistent=None, private_ip=False,
                          private_ip_persistent=None)
    blocked = state(facts=facts, transient={TRUSTED: list(facts.trusted), PRIVATE_IP: "false"})
    check = doctor.settings_check(deepseek_at("http://127.0.0.1:8089"), blocked)
    assert not check.ok
    assert "transient trusted-endpoint list" in check.detail and "private_ip_enabled=false" in check.detail
    assert f'{{"transient": {{"{TRUSTED}": null}}}}' in check.fix


def test_private_endpoint_on_a_cluster_older_than_2_15_is_blocked() -> None:
    check = doctor.settings_check(ollama_at("http://127.0.0.1:11434"), state(version=(2, 13)))
    assert not check.ok and "before 2.15" in check.detail


def test_private_endpoints_regex_that_does_not_match_blocks() -> None:
    check = doctor.settings_check(ollama_at("http://127.0.0.1:11434"),
                                  state(version=(3, 7), private_endpoints=("^http://10\\.0\\.0\\.1:.*$",)))
    assert not check.ok and doctor.PRIVATE_ENDPOINTS in check.detail
    assert r"^http://127\.0\.0\.1:11434/.*$" in check.fix


@pytest.mark.parametrize("text, major_minor", [("2.19.6", (2, 19)), ("3.0.0-SNAPSHOT", (3, 0)), ("x", (0, 0))])
def test_parse_version(text: str, major_minor: tuple) -> None:
    assert doctor.parse_version(text) == major_minor


# --- cluster features (read from GET _nodes and the settings doctor already fetches) --------------------

def features_of(double: MLDouble) -> dict:
    checks, state = doctor.cluster_checks(double_client(double))
    assert state is not None, checks
    return {f.name: f for f in state.features}


def test_a_local_node_supports_every_consumer_feature_without_an_extra_request() -> None:
    double = MLDouble()
    found = features_of(double)
    assert {name: f.supported for name, f in found.items()} == {
        "RAG search pipelines": True, "agents": True, "conversation memory": True,
        "ml_inference ingest processor": True, "k-NN": True}
    assert found["RAG search pipelines"].detail == ("retrieval_augmented_generation response processor on 1 of 1 "
                                                    f"node(s), {features.RAG_ENABLED} = true")
    assert found["k-NN"].detail == "opensearch-knn on 1 of 1 node(s)"
    assert found["agents"].detail == f"ML Commons 2.19, {features.AGENTS_ENABLED} = true"
    assert double.count("GET", "/_nodes") == 1


@pytest.mark.parametrize("key, name", [(features.MEMORY_ENABLED, "conversation memory"),
                                       (features.AGENTS_ENABLED, "agents"),
                                       (features.RAG_ENABLED, "RAG search pipelines")])
def test_a_feature_switched_off_by_its_setting_is_not_supported(key: str, name: str) -> None:
    double = MLDouble()
    double.persistent[key] = "false"
    feature = features_of(double)[name]
    assert not feature.supported and feature.detail.endswith(f", {key} = false")


def test_features_come_from_what_every_node_lists_and_the_ml_commons_version() -> None:
    full = {"plugins": [{"name": "opensearch-knn"}], "ingest": {"processors": [{"type": "ml_inference"}]},
            "search_pipelines": {"response_processors": [{"type": "retrieval_augmented_generation"}]}}
    bare = {"plugins": [], "ingest": {"processors": [{"type": "set"}]}}  # before 2.9: no search_pipelines
    found = {f.name: f for f in features.cluster_features((2, 11), {}, {"a": full, "b": bare})}
    assert not any(f.supported for f in found.values())
    assert found["k-NN"].detail == "opensearch-knn on 1 of 2 node(s)"
    assert found["agents"].detail == "ML Commons 2.11 (needs 2.12+)"
    assert all(f.supported for f in features.cluster_features((3, 6), {}, {"a": full}))


def test_a_cluster_without_ml_commons_reports_no_features() -> None:
    client = double_client(MLDouble(ml_plugin=False))
    assert doctor.run(client).features == []


# --- blueprint loading, whole run, rendering, CLI --------------------------------------------------------

def test_missing_environment_is_a_failed_check_not_a_crash() -> None:
    [check] = doctor.blueprint_checks(DEEPSEEK, None, env={})
    assert not check.ok and "DEEPSEEK_API_KEY" in check.detail and ".env.example" in check.fix


def test_invalid_blueprint_points_at_validate(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("blueprint: Not-Valid\n", encoding="utf-8")
    [check] = doctor.blueprint_checks(bad, None, env={})
    assert not check.ok and check.fix == f"run: opensearch-llm validate {bad}"


def test_unreachable_cluster_fails_but_upstreams_are_still_checked(deepseek_api: FakeDeepSeek) -> None:
    settings = ConnectionSettings(url=f"http://127.0.0.1:{closed_port()}", retry=RetryPolicy(attempts=1))
    env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": deepseek_api.url, "DEEPSEEK_MODEL": deepseek_api.models[0]}
    checks = doctor.run(connect(settings), [DEEPSEEK], env=env).checks
    assert [(c.name, c.ok) for c in checks] == [
        ("cluster reachable", False), ("deepseek-chat: blueprint", True), ("deepseek-chat: upstream", True),
        ("deepseek-chat: preflight", True)]
    assert "opensearch-llm local start" in checks[0].fix


class _Cluster(FakeServer):
    """A cluster that notes, at each request, which preflights had been asked already; it answers 503."""

    def __init__(self, asked: Callable[[], List[str]]) -> None:
        super().__init__()
        self.asked = asked
        self.seen: List[List[str]] = []

    def _dispatch(self, ex: Exchange) -> None:
        self.seen.append(self.asked())
        ex.send_json(503, {"error": "unavailable"})


def test_every_preflight_runs_before_the_first_cluster_request(deepseek_api: FakeDeepSeek,
                                                                ollama_api: FakeOllama) -> None:
    def asked() -> List[str]:  # the upstream check sends no key; the preflight sends the connector's
        keyed = any(r.path == "/models" and "authorization" in r.headers for r in deepseek_api.requests)
        return ["deepseek-chat"] * keyed + ["ollama-chat"] * bool(ollama_api.last_request("/api/tags"))

    env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": deepseek_api.url, "DEEPSEEK_MODEL": deepseek_api.models[0],
           "OLLAMA_BASE_URL": ollama_api.url}
    with _Cluster(asked) as cluster:
        client = connect(ConnectionSettings(url=cluster.url, retry=RetryPolicy(attempts=1)))
        checks = doctor.run(client, [DEEPSEEK, OLLAMA], env=env).checks
    assert cluster.seen and all(seen == ["deepseek-chat", "ollama-chat"] for seen in cluster.seen)
    assert [(c.name, c.ok) for c in checks] == [("cluster reachable", False)] + [
        (f"{bp}: {what}", True) for bp in ("deepseek-chat", "ollama-chat") for what in ("blueprint", "upstream",
                                                                                         "preflight")]


def test_render_is_a_table_with_fixes_under_failures() -> None:
    text = doctor.render([doctor.Check("cluster reachable", True, "answered"),
                          doctor.Check("x: upstream", False, "refused", "start it")])
    assert text.splitlines() == ["PASS  cluster reachable  answered",
                                 "FAIL  x: upstream        refused",
                                 "                         fix: start it",
                                 "1 passed, 1 failed"]


def test_render_lists_the_features_after_the_checks_and_the_counts_last() -> None:
    rows = [Feature("agents", True, "ML Commons 2.19"), Feature("k-NN", False, "opensearch-knn on 0 of 1 node(s)")]
    text = doctor.render([doctor.Check("cluster reachable", True, "answered")], rows)
    assert text.splitlines() == ["PASS  cluster reachable  answered",
                                 "cluster features:",
                                 "  yes  agents  ML Commons 2.19",
                                 "  no   k-NN    opensearch-knn on 0 of 1 node(s)",
                                 "1 passed, 0 failed"]


def test_the_json_report_carries_checks_and_features() -> None:
    report = doctor.run(double_client(MLDouble()))
    data = report.to_dict()
    assert data["ok"] is True and report.failed == 0
    assert [c["name"] for c in data["checks"]] == ["cluster reachable", "OpenSearch version", "opensearch-ml plugin",
                                                   "remote inference", "nodes for remote models",
                                                   "ghosts, drift, stray settings"]
    assert {f["name"]: f["supported"] for f in data["features"]}["k-NN"] is True
    assert set(data["features"][0]) == {"name", "supported", "detail"}


def test_cli_exit_1_and_json_when_a_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    from opensearch_llm.cli import cli

    monkeypatch.setenv("OPENSEARCH_LLM_TIMEOUT", "2")
    result = CliRunner().invoke(cli, ["doctor", "--url", f"http://127.0.0.1:{closed_port()}", "--json",
                                      str(OLLAMA)], env={"OLLAMA_BASE_URL": f"http://127.0.0.1:{closed_port()}"})
    assert result.exit_code == 1
    assert isinstance(result.exception, OpenSearchLLMError) and "check(s) failed" in str(result.exception)
    data = json.loads(result.stdout)
    assert data["ok"] is False
    assert {c["name"]: c["ok"] for c in data["checks"]} == {
        "cluster reachable": False, "ollama-chat: blueprint": True, "ollama-chat: upstream": False,
        "ollama-chat: preflight": True}
    assert all(c["fix"] for c in data["checks"] if not c["ok"])
