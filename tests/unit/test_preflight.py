"""Preflight (lifecycle step 0) against real fake providers on 127.0.0.1, and the blueprint's preflight section."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from opensearch_llm.blueprint import load_blueprint, validate_file
from opensearch_llm.blueprint.paths import get_all, split_wildcard
from opensearch_llm.errors import InvalidInputError, PreflightRefused
from opensearch_llm.preflight import PreflightReport, nearest, not_offered_message, preflight
from opensearch_llm.testing import FakeDeepSeek, FakeOllama
from tests.helpers import FAKE_KEY as KEY, V4, closed_port, run_cli

ROOT = Path(__file__).resolve().parents[2]
DEEPSEEK = ROOT / "connectors" / "deepseek-chat.yaml"
REASONER = ROOT / "connectors" / "deepseek-reasoner.yaml"
OLLAMA_CHAT = ROOT / "connectors" / "ollama-chat.yaml"
WRONG_KEY = "sk-preflight-wrong-98765432"


@pytest.fixture
def deepseek_models() -> Tuple[str, ...]:
    """``deepseek_api`` serves only the V4 names here."""
    return V4


@pytest.fixture
def ollama_api() -> Iterator[FakeOllama]:
    with FakeOllama(models=("llama3.2:1b", "nomic-embed-text")) as server:
        yield server


def deepseek(url: str, model: str = "deepseek-v4-flash", key: str = KEY, overrides: tuple = ()) -> Any:
    env = {"DEEPSEEK_API_KEY": key, "DEEPSEEK_BASE_URL": url, "DEEPSEEK_MODEL": model}
    return load_blueprint(DEEPSEEK, env=env, env_file=False, overrides=overrides)


def ollama(url: str, model: str, pull: bool = False) -> Any:
    env = {"OLLAMA_BASE_URL": url, "OLLAMA_CHAT_MODEL": model}
    return load_blueprint(OLLAMA_CHAT, env=env, env_file=False, overrides=(f"ollama.pull={str(pull).lower()}",))


class Warnings(List[str]):
    def __call__(self, message: str) -> None:
        self.append(message)


def refusal(bp: Any) -> PreflightRefused:
    warnings = Warnings()
    with pytest.raises(PreflightRefused) as info:
        preflight(bp, warn=warnings)
    assert warnings == []
    return info.value


# --- OpenAI-compatible (DeepSeek) ---------------------------------------------------------------------------

def test_accepted_key_and_offered_model(deepseek_api: FakeDeepSeek) -> None:
    warnings = Warnings()
    report = preflight(deepseek(deepseek_api.url), warn=warnings)
    assert (report.status, report.model, report.offered) == ("ok", "deepseek-v4-flash", list(V4))
    assert report.provider == deepseek_api.url and report.url == f"{deepseek_api.url}/models"
    assert warnings == [] and report.http_status == 200 and not report.refused and not report.warned
    sent = deepseek_api.last_request("/models")
    assert sent is not None and sent.method == "GET" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert KEY not in json.dumps(report.to_dict())


def test_the_reasoner_blueprint_is_checked_too(deepseek_api: FakeDeepSeek) -> None:
    env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": deepseek_api.url, "DEEPSEEK_MODEL": "deepseek-v4-pro",
           "DEEPSEEK_REASONER_MODEL": "deepseek-v4-pro"}
    report = preflight(load_blueprint(REASONER, env=env, env_file=False))
    assert report.status == "ok" and report.model in V4


def test_retired_name_is_refused_with_date_offered_models_and_successor(deepseek_api: FakeDeepSeek) -> None:
    exc = refusal(deepseek(deepseek_api.url, "deepseek-chat"))
    assert isinstance(exc, InvalidInputError) and exc.exit_code == 2
    assert exc.message == (f"`deepseek-chat` is not offered by {deepseek_api.url} (retired 2026-07-24); "
                           "offered: deepseek-v4-flash, deepseek-v4-pro; nearest match: deepseek-v4-flash")
    assert "DEEPSEEK_MODEL=deepseek-v4-flash" in str(exc.hint) and "--no-preflight" in str(exc.hint)
    assert exc.report.status == "not-offered" and exc.report.offered == list(V4)


def test_unknown_name_names_the_nearest_match(deepseek_api: FakeDeepSeek) -> None:
    exc = refusal(deepseek(deepseek_api.url, "deepseek-v4-flsh"))
    assert "`deepseek-v4-flsh` is not offered by" in exc.message and "retired" not in exc.message
    assert exc.message.endswith("nearest match: deepseek-v4-flash")


def test_a_legacy_name_still_answered_but_no_longer_listed_warns_and_goes_on() -> None:
    with FakeDeepSeek(api_key=KEY, models=("deepseek-flash", "deepseek-v4-pro")) as server:
        warnings = Warnings()
        report = preflight(deepseek(server.url, "deepseek-v4-flash"), warn=warnings)
        assert report.status == "legacy" and not report.refused
        assert warnings == [f"preflight: {server.url} no longer lists deepseek-v4-flash but still answers it "
                            "(served by deepseek-flash); consider deepseek-flash"]
        exc = refusal(deepseek(server.url, "deepseek-reasoner"))
        assert exc.message.endswith("(retired 2026-07-24); offered: deepseek-flash, deepseek-v4-pro; "
                                    "nearest match: deepseek-flash")


def test_unrelated_name_has_no_nearest_match(deepseek_api: FakeDeepSeek) -> None:
    exc = refusal(deepseek(deepseek_api.url, "gpt-4o"))
    assert "nearest match" not in exc.message and "<model>" in str(exc.hint)


def test_refused_key_shows_the_providers_status_and_text_but_never_the_key(deepseek_api: FakeDeepSeek) -> None:
    exc = refusal(deepseek(deepseek_api.url, key=WRONG_KEY))
    assert exc.exit_code == 2 and exc.report.status == "refused" and exc.report.http_status == 401
    assert f"{deepseek_api.url} refused the key: GET {deepseek_api.url}/models -> HTTP 401" in exc.message
    assert "Authentication Fails" in exc.message and "DEEPSEEK_API_KEY" in str(exc.hint)
    for text in (str(exc), repr(exc), json.dumps(exc.report.to_dict())):
        assert WRONG_KEY not in text


def test_a_provider_echoing_the_whole_key_is_masked(deepseek_api: FakeDeepSeek) -> None:
    deepseek_api.fail(403, path_contains="/models")
    deepseek_api.error_payload = lambda status, message=None: {"error": {"message": f"key {KEY} is banned"}}
    exc = refusal(deepseek(deepseek_api.url))
    assert "key *** is banned" in exc.message and KEY not in str(exc)


def test_a_key_where_the_providers_text_is_cut_is_masked_whole(deepseek_api: FakeDeepSeek) -> None:
    deepseek_api.fail(401, path_contains="/models")
    padding = "x" * 285  # the key straddles the 300-character cut
    deepseek_api.error_payload = lambda status, message=None: {"error": {"message": f"{padding} {KEY} is banned"}}
    exc = refusal(deepseek(deepseek_api.url))
    assert f"{padding} *** is banned" in exc.message
    assert KEY[:8] not in str(exc)  # no cut-off part of the key either


def test_the_openai_compatible_blueprint_names_its_own_variables(deepseek_api: FakeDeepSeek) -> None:
    path = ROOT / "connectors" / "openai-compatible.yaml"
    env = {"OPENAI_BASE_URL": f"{deepseek_api.url}/v1", "OPENAI_MODEL": "deepseek-v4-pro", "OPENAI_API_KEY": KEY}
    assert preflight(load_blueprint(path, env=env, env_file=False)).status == "ok"
    assert deepseek_api.last_request("/v1/models") is not None
    wrong = refusal(load_blueprint(path, env={**env, "OPENAI_API_KEY": WRONG_KEY}, env_file=False))
    assert wrong.hint == "check OPENAI_API_KEY; --no-preflight skips this check"
    unknown = refusal(load_blueprint(path, env={**env, "OPENAI_MODEL": "deepseek-v4-pr"}, env_file=False))
    assert str(unknown.hint).startswith("pick an offered model: OPENAI_MODEL=deepseek-v4-pro or "
                                        "--set connector.parameters.model=deepseek-v4-pro")


def test_unreachable_provider_warns_once_and_goes_on() -> None:
    warnings = Warnings()
    report = preflight(deepseek(f"http://127.0.0.1:{closed_port()}"), warn=warnings)
    assert report.status == "unreachable" and report.warned and report.http_status is None
    [line] = warnings
    assert "is not reachable from this machine" in line and "Connection refused" in line
    assert KEY not in line


def test_discard_port_is_unreachable_too() -> None:
    warnings = Warnings()
    assert preflight(deepseek("http://127.0.0.1:9"), warn=warnings, timeout=2).status == "unreachable"
    assert len(warnings) == 1


@pytest.mark.parametrize("status", [404, 405])
def test_no_model_listing_warns_and_goes_on(deepseek_api: FakeDeepSeek, status: int) -> None:
    deepseek_api.fail(status, path_contains="/models")
    warnings = Warnings()
    report = preflight(deepseek(deepseek_api.url, "anything-at-all"), warn=warnings)
    assert report.status == "no-listing" and report.http_status == status
    assert warnings == [f"preflight skipped: GET {deepseek_api.url}/models -> HTTP {status} (no model listing); "
                        "going on without checking the model"]


def test_a_listing_url_the_server_does_not_have_is_no_listing(deepseek_api: FakeDeepSeek) -> None:
    bp = deepseek(deepseek_api.url, overrides=("preflight.url=${parameters.base_url}/nowhere",))
    assert preflight(bp, warn=Warnings()).status == "no-listing"


def test_server_error_or_unreadable_listing_is_inconclusive(deepseek_api: FakeDeepSeek) -> None:
    deepseek_api.fail(503, count=1)
    warnings = Warnings()
    assert preflight(deepseek(deepseek_api.url), warn=warnings).status == "unavailable"
    assert "HTTP 503" in warnings[0]
    bp = deepseek(deepseek_api.url, overrides=("preflight.models=items[*].name",))
    assert preflight(bp, warn=warnings).status == "unavailable"
    assert "no model ids at items[*].name" in warnings[1]


def test_disabled_or_undeclared_preflight_is_skipped_without_a_request(deepseek_api: FakeDeepSeek) -> None:
    bp = deepseek(deepseek_api.url, "deepseek-chat", overrides=("preflight.enabled=false",))
    assert preflight(bp).status == "skipped"
    assert deepseek_api.last_request("/models") is None


def test_explicit_headers_replace_the_predict_headers(deepseek_api: FakeDeepSeek) -> None:
    bp = deepseek(deepseek_api.url, overrides=('preflight.headers={"Authorization": "Bearer ${credential.api_key}", '
                                               '"X-Probe": "${parameters.model}"}',))
    assert preflight(bp).status == "ok"
    sent = deepseek_api.last_request("/models")
    assert sent is not None and sent.headers["x-probe"] == "deepseek-v4-flash"
    assert "content-type" not in sent.headers


# --- Ollama ---------------------------------------------------------------------------------------------

def test_ollama_model_present_and_tagless_name_means_latest(ollama_api: FakeOllama) -> None:
    assert preflight(ollama(ollama_api.url, "llama3.2:1b")).status == "ok"
    assert preflight(ollama(ollama_api.url, "nomic-embed-text")).status == "ok"
    assert ollama_api.last_request("/api/tags") is not None


def test_ollama_missing_model_is_refused_with_how_to_pull(ollama_api: FakeOllama) -> None:
    exc = refusal(ollama(ollama_api.url, "qwen3:8b"))
    assert exc.message.startswith(f"`qwen3:8b` is not offered by {ollama_api.url}; offered: llama3.2:1b")
    assert "--set ollama.pull=true" in str(exc.hint) and "OLLAMA_CHAT_MODEL=" in str(exc.hint)


def test_ollama_missing_model_with_pull_is_fine(ollama_api: FakeOllama) -> None:
    warnings = Warnings()
    report = preflight(ollama(ollama_api.url, "qwen3:8b", pull=True), warn=warnings)
    assert report.status == "pull" and not report.refused and warnings == []
    assert ollama_api.last_request("/api/pull") is None  # the pull is prepare's job, not preflight's


# --- helpers ----------------------------------------------------------------------------------------------

def test_nearest_and_message_helpers() -> None:
    assert nearest("deepseek-reasoner", V4) == "deepseek-v4-flash"
    assert nearest("deepseek-reasoner", ("other",)) is None
    many = [f"model-{i}" for i in range(25)]
    assert not_offered_message("x", "http://p", many).endswith("model-19, ... (5 more)")
    assert not_offered_message("x", "http://p", []) == "`x` is not offered by http://p; offered: none"
    report = PreflightReport(provider="p", model="m", status="ok")
    assert set(report.to_dict()) == {"provider", "model", "status", "url", "offered", "reason", "http_status",
                                     "seconds"}


def test_wildcard_paths() -> None:
    data = {"data": [{"id": "a"}, {"id": "b"}], "names": ["x"]}
    assert get_all(data, "data[*].id") == ["a", "b"] and get_all(data, "names") == ["x"]
    assert split_wildcard("[*].id") == ([], ["id"])
    for bad in ("data[*][*]", "data[*]id", "data[*].", ""):
        with pytest.raises(ValueError):
            split_wildcard(bad)
    with pytest.raises(KeyError):
        get_all(data, "data[*].name")
    with pytest.raises(ValueError):
        get_all(data, "data[0]")


# --- the preflight section in a blueprint -------------------------------------------------------------------

BASE = """\
blueprint: pf
connector:
  parameters:
    base_url: https://api.example.com
    model: m
  credential:
    api_key: abcd-secret-1234
  actions:
    - action_type: predict
      method: POST
      url: "${parameters.base_url}/chat/completions"
      headers:
        Authorization: "Bearer ${credential.api_key}"
      request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'
smoke:
  parameters: {}
"""


def problems(tmp_path: Path, section: str) -> List[str]:
    path = tmp_path / "pf.yaml"
    path.write_text(BASE + section, encoding="utf-8")
    return [str(p).replace(str(path), "pf.yaml") for p in validate_file(path, env={}, env_file=False)]


def test_a_good_section_validates_and_loads(tmp_path: Path) -> None:
    section = 'preflight:\n  url: "${parameters.base_url}/models"\n  models: data[*].id\n'
    assert problems(tmp_path, section) == []
    bp = load_blueprint(tmp_path / "pf.yaml", env={}, env_file=False)
    assert bp.preflight is not None and bp.preflight.model == "${parameters.model}" and bp.preflight.enabled
    assert bp.to_dict()["preflight"]["models"] == "data[*].id"


def test_enabled_false_needs_nothing_else(tmp_path: Path) -> None:
    assert problems(tmp_path, "preflight:\n  enabled: false\n") == []


BAD_SECTIONS: Dict[str, Optional[List[str]]] = {
    "preflight:\n  models: data[*].id\n": ["pf.yaml:17: preflight: missing required key 'url'"],
    'preflight:\n  url: "${parameters.nope}/models"\n  models: data[*].id\n':
        ["pf.yaml:18: preflight.url: placeholder ${parameters.nope} is not defined in connector.parameters"],
    "preflight:\n  url: ftp://x/models\n  models: data[*].id\n":
        ["pf.yaml:18: preflight.url: url scheme 'ftp' is not allowed (use http or https): 'ftp://x/models'"],
    'preflight:\n  url: "https://api.example.com/models"\n  models: "data[*].id[*]"\n':
        ["pf.yaml:19: preflight.models: bad path 'data[*].id[*]': at most one [*] is allowed"],
    'preflight:\n  url: "https://api.example.com/models"\n  models: data[*].id\n  model: "${parameters.modl}"\n':
        ["pf.yaml:20: preflight.model: placeholder ${parameters.modl} is not defined in connector.parameters"],
    'preflight:\n  url: "https://api.example.com/models"\n  models: data[*].id\n'
    '  headers:\n    Authorization: Bearer sk-lit\n':
        ["pf.yaml:21: preflight.headers.Authorization: literal secret in header 'Authorization': "
         "use ${credential.<name>}"],
    'preflight:\n  url: "https://api.example.com/models"\n  models: data[*].id\n  headers: {X: "${credential.nope}"}\n':
        ["pf.yaml:20: preflight.headers.X: placeholder ${credential.nope} names no credential (defined: api_key)"],
    'preflight:\n  url: "https://api.example.com/models"\n  models: data[*].id\n  enabld: true\n':
        ["pf.yaml:20: preflight.enabld: unknown key 'enabld' (did you mean 'enabled'?)"],
    'preflight:\n  enabled: "yes"\n  url: "https://api.example.com/models"\n  models: data[*].id\n':
        ["pf.yaml:18: preflight.enabled: expected boolean, got string"],
    "preflight: true\n": ["pf.yaml:17: preflight: expected object, got boolean"],
}


@pytest.mark.parametrize("section", list(BAD_SECTIONS), ids=range(len(BAD_SECTIONS)))
def test_bad_sections_are_located(tmp_path: Path, section: str) -> None:
    assert problems(tmp_path, section) == BAD_SECTIONS[section]


def test_a_default_model_needs_a_model_parameter(tmp_path: Path) -> None:
    text = BASE.replace("    model: m\n", "").replace('"model": "${parameters.model}", ', "")
    path = tmp_path / "nomodel.yaml"
    section = 'preflight:\n  url: "https://api.example.com/models"\n  models: data[*].id\n'
    path.write_text(text + section, encoding="utf-8")
    [problem] = validate_file(path, env={}, env_file=False)
    assert problem.path == "preflight" and "(set preflight.model)" in problem.message


ELSEWHERE = ("pf.yaml:18: preflight.url: the preflight would send the connector's credential to {}, which none "
             "of the connector's actions calls (https://api.example.com:443): point preflight.url at the provider "
             "the actions call, or give preflight.headers without ${{credential.*}}")


@pytest.mark.parametrize("url, refused_at", [
    ("https://elsewhere.example/models", "https://elsewhere.example:443"),
    ("http://api.example.com/models", "http://api.example.com:80"),        # another scheme
    ("https://api.example.com:8443/models", "https://api.example.com:8443"),  # another port
    ("https://API.example.com:443/v1/models", None),                       # the same endpoint, spelt otherwise
    ("${parameters.base_url}/models", None),
])
def test_a_preflight_sending_the_credential_must_ask_a_host_the_actions_call(
        tmp_path: Path, capsys: pytest.CaptureFixture, url: str, refused_at: Optional[str]) -> None:
    section = f'preflight:\n  url: "{url}"\n  models: data[*].id\n'
    assert problems(tmp_path, section) == ([ELSEWHERE.format(refused_at)] if refused_at else [])
    if refused_at:
        code, out, err = run_cli(capsys, "validate", "pf.yaml")
        assert code == 2 and out == "" and "pf.yaml:18: preflight.url: the preflight would send" in err
        assert "abcd-secret-1234" not in err


def test_a_preflight_elsewhere_is_allowed_without_a_credential_but_not_with_one_in_its_url(tmp_path: Path) -> None:
    section = 'preflight:\n  url: "https://elsewhere.example/models"\n  models: data[*].id\n'
    assert problems(tmp_path, section + '  headers: {Accept: application/json}\n') == []
    keyed = section.replace("/models", "/models?key=${credential.api_key}")
    assert problems(tmp_path, keyed + '  headers: {Accept: application/json}\n') == [
        ELSEWHERE.format("https://elsewhere.example:443")]


def test_every_shipped_blueprint_declares_a_preflight() -> None:
    env = {"DEEPSEEK_API_KEY": KEY, "OPENAI_BASE_URL": "https://api.example.com/v1", "OPENAI_MODEL": "m"}
    for path in sorted((ROOT / "connectors").glob("*.yaml")):
        bp = load_blueprint(path, env=env, env_file=False)
        assert bp.preflight is not None and bp.preflight.enabled and bp.preflight.url, path.name


# --- doctor's row -------------------------------------------------------------------------------------------

def test_doctor_row_fails_on_a_refusal_warns_when_it_cannot_ask_and_passes_otherwise(
        deepseek_api: FakeDeepSeek) -> None:
    from opensearch_llm import doctor

    ok = doctor.preflight_check(deepseek(deepseek_api.url))
    assert ok.ok and not ok.warn and ok.name == "deepseek-chat: preflight"
    assert "accepts the key and offers deepseek-v4-flash (2 model(s) listed)" in ok.detail
    refused = doctor.preflight_check(deepseek(deepseek_api.url, key=WRONG_KEY))
    assert not refused.ok and "refused the key" in refused.detail and "DEEPSEEK_API_KEY" in refused.fix
    assert WRONG_KEY not in str(refused.to_dict())
    unreachable = doctor.preflight_check(deepseek(f"http://127.0.0.1:{closed_port()}"))
    assert unreachable.ok and unreachable.warn
    skipped = doctor.preflight_check(deepseek(deepseek_api.url, overrides=("preflight.enabled=false",)))
    assert skipped.ok and not skipped.warn and skipped.detail == "skipped: preflight.enabled is false"
    lines = doctor.render([ok, unreachable, refused]).splitlines()
    assert lines[1].startswith("WARN  deepseek-chat: preflight") and lines[2].startswith("FAIL")
    assert lines[-1] == "2 passed, 1 failed, 1 warning(s)"


def test_a_404_at_an_openai_compatible_listing_is_a_wrong_base_url(deepseek_api: FakeDeepSeek) -> None:
    path = ROOT / "connectors" / "openai-compatible.yaml"
    env = {"OPENAI_BASE_URL": deepseek_api.url, "OPENAI_MODEL": "deepseek-v4-pro", "OPENAI_API_KEY": KEY}
    deepseek_api.fail(404, count=1, path_contains="/models")  # /models is 404, /v1/models answers
    refused = refusal(load_blueprint(path, env=env, env_file=False))
    assert refused.exit_code == 2
    assert f"there is no OpenAI-compatible API at {deepseek_api.url}; it answers under {deepseek_api.url}/v1" \
        in refused.message
    assert refused.hint == f"set OPENAI_BASE_URL={deepseek_api.url}/v1; --no-preflight skips this check"


def test_a_404_with_no_listing_under_v1_either_only_warns(deepseek_api: FakeDeepSeek) -> None:
    path = ROOT / "connectors" / "openai-compatible.yaml"  # e.g. an Azure deployment URL
    env = {"OPENAI_BASE_URL": deepseek_api.url + "/deployment", "OPENAI_MODEL": "m", "OPENAI_API_KEY": KEY}
    deepseek_api.fail(404, path_contains="/models")
    assert preflight(load_blueprint(path, env=env, env_file=False), warn=Warnings()).status == "no-listing"


@pytest.mark.parametrize("body, text", [
    ({"detail": "Not Found"}, "Not Found"),
    ({"error": "model not loaded"}, "model not loaded"),
    ({"error": {"message": "bad key", "type": "auth"}}, "bad key"),
    ({"detail": [{"loc": ["body", "max_tokens"], "msg": "Input should be a valid integer"}]},
     "max_tokens: Input should be a valid integer"),
    ({"unexpected": 1}, '{"unexpected": 1}'),
])
def test_every_error_shape_of_openai_compatible_servers_reads_as_text(body: Any, text: str) -> None:
    from opensearch_llm.resources.predict import provider_message

    assert provider_message(json.dumps(body)) == text
