"""`opensearch-llm import`: ML Commons connector bodies (tests/data/ml-commons-connectors) become valid blueprints."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from opensearch_llm.blueprint import load_blueprint, validate_file
from opensearch_llm.blueprint.importer import env_name, import_connector, parse_body, strip_comments
from opensearch_llm.errors import InvalidInputError
from tests.helpers import run_cli as run

DATA = Path(__file__).resolve().parents[1] / "data" / "ml-commons-connectors"
BODIES = sorted(DATA.glob("*.json"))
# file -> (predict style or None, input parameter, the variables to set)
EXPECTED = {
    "azure-openai-chat": ("messages", "messages", ["OPENAI_KEY"]),
    "bedrock-converse": ("prompt", "inputs", ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"]),
    "cohere-embed": ("texts", "texts", ["COHERE_KEY"]),
    "deepseek-chat": ("messages", "messages", ["DEEPSEEK_KEY"]),
    "ollama-chat": ("messages", "messages", ["OPENAI_KEY"]),
    "openai-chat": ("messages", "messages", ["OPENAI_KEY"]),
    "seed-deepseek-chat": ("messages", "messages", ["DEEPSEEK_KEY"]),
    "seed-ollama-generate": ("prompt", "prompt", ["DUMMY_KEY"]),
}
LITERAL = "FAKE-literal-key-not-a-real-secret"  # the key in seed-deepseek-chat.json


def _credential_values(path: Path) -> list:
    return [v for v in parse_body(path.read_text(encoding="utf-8"))["credential"].values()]


def _strings(obj: Any) -> list:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _strings(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in _strings(v)]
    return [obj] if isinstance(obj, str) else []


def _leaks(value: str, text: str) -> bool:
    """``value`` is in ``text``: as a whole YAML value, or (when long enough to be a key) anywhere."""
    try:
        values = _strings(yaml.safe_load(text))
    except yaml.YAMLError:
        values = []
    return value in values or (len(value) >= 8 and value in text)


def test_the_test_data_is_complete_and_documented() -> None:
    assert [p.stem for p in BODIES] == sorted(EXPECTED)
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    for path in BODIES:
        assert f"`{path.name}`" in readme, path.name


@pytest.mark.parametrize("path", BODIES, ids=lambda p: p.stem)
def test_each_body_imports_and_validates(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    style, input_name, variables = EXPECTED[path.stem]
    out_file = tmp_path / "imported.yaml"
    code, out, err = run(capsys, "import", str(path), "-o", str(out_file))
    assert code == 0, err
    assert out == ""
    for var in variables:
        assert f"set {var}: " in err
    text = out_file.read_text(encoding="utf-8")
    for value in _credential_values(path):
        assert not _leaks(value, text) and not _leaks(value, err)
    env = {var: "sk-imported-test-value" for var in variables}
    assert validate_file(out_file, env=env, env_file=False) == []
    bp = load_blueprint(out_file, env=env, env_file=False)
    assert (bp.predict.style, bp.predict.input) == (style, input_name)
    assert bp.requires_env == tuple(variables)
    assert list(bp.smoke.parameters) == [input_name]
    assert bp.model_group.name == bp.model.name == bp.connector.name == bp.name
    code, _out, err = run(capsys, "validate", str(out_file))
    assert code == 2 and all(var in err for var in variables)  # the variables are not set here


def test_answer_paths_follow_the_endpoint() -> None:
    def answer(name: str) -> str:
        data = yaml.safe_load(import_connector((DATA / f"{name}.json").read_text(encoding="utf-8"), name).text)
        return data["smoke"]["expect"][0]["path"]

    assert answer("openai-chat").endswith("dataAsMap.choices[0].message.content")
    assert answer("bedrock-converse").endswith("dataAsMap.response")  # response_filter
    assert answer("cohere-embed") == "inference_results[0].output[0].data"
    assert answer("seed-ollama-generate").endswith("dataAsMap.response")


def test_a_literal_key_is_never_written(capsys: pytest.CaptureFixture) -> None:
    path = DATA / "seed-deepseek-chat.json"
    assert LITERAL in path.read_text(encoding="utf-8")
    code, out, err = run(capsys, "import", str(path))
    assert code == 0, err
    assert LITERAL not in out + err
    assert "credential:\n    deepSeek_key: ${env:DEEPSEEK_KEY}\n" in out
    assert "set DEEPSEEK_KEY: the connector credential deepSeek_key (the input held a value for it" in err


def test_a_literal_secret_in_a_header_becomes_a_credential() -> None:
    body = {"name": "Lit", "protocol": "http", "parameters": {"model": "m"},
            "credential": {"key": "sk-credential-literal-000"},
            "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.example.com/v1/chat/completions",
                         "headers": {"Authorization": "Bearer sk-header-literal-111", "x-api-key": "sk-credential-literal-000"},
                         "request_body": '{"model": "${parameters.model}", "messages": ${parameters.messages}, '
                                         '"user": "sk-credential-literal-000"}'}]}
    imported = import_connector(json.dumps(body))
    assert imported.problems == []
    assert "sk-header-literal-111" not in imported.text and "sk-credential-literal-000" not in imported.text
    data = yaml.safe_load(imported.text)
    action = data["connector"]["actions"][0]
    assert data["connector"]["credential"] == {"key": "${env:KEY}", "api_key": "${env:API_KEY}"}
    assert action["headers"] == {"Authorization": "Bearer ${credential.api_key}", "x-api-key": "${credential.key}"}
    assert '"user": "${credential.key}"' in action["request_body"]
    assert sorted(imported.literals) == ["API_KEY", "KEY"]


SECRET = "AIzaSyLiteral-0123456789abcdefXYZ"
CHAT_BODY = '{"model": "${parameters.model}", "messages": ${parameters.messages}}'
# case -> (parameters, headers, url query, where the reference ends up, the credential it becomes)
SECRET_PLACES = {
    "x-goog-api-key header": ({}, {"x-goog-api-key": SECRET}, "", ("headers", "x-goog-api-key"), "api_key"),
    "Ocp-Apim-Subscription-Key header": ({}, {"Ocp-Apim-Subscription-Key": SECRET}, "",
                                         ("headers", "Ocp-Apim-Subscription-Key"), "api_key"),
    "parameters.api_key": ({"api_key": SECRET}, {"Authorization": "Bearer ${parameters.api_key}"}, "",
                           ("headers", "Authorization"), "api_key"),
    "a parameter an auth header reads": ({"session": SECRET}, {"X-Auth-Token": "${parameters.session}"}, "",
                                         ("headers", "X-Auth-Token"), "session"),
    "?key= in the URL": ({}, {}, f"?key={SECRET}&alt=sse", ("url",), "api_key"),
    "&sig= in the URL": ({}, {}, f"?api-version=1&sig={SECRET}", ("url",), "api_key"),
}


@pytest.mark.parametrize("case", list(SECRET_PLACES))
def test_a_literal_secret_anywhere_becomes_a_credential_never_written(case: str, tmp_path: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    params, headers, query, where, key = SECRET_PLACES[case]
    body = {"name": "Lit", "protocol": "http", "parameters": {"model": "m", **params},
            "actions": [{"action_type": "predict", "method": "POST", "url": f"https://llm.example.com/v1/chat{query}",
                         "headers": {"Content-Type": "application/json", **headers}, "request_body": CHAT_BODY}]}
    (tmp_path / "body.json").write_text(json.dumps(body), encoding="utf-8")
    code, out, err = run(capsys, "import", "body.json", "-o", "lit.yaml")
    text = (tmp_path / "lit.yaml").read_text(encoding="utf-8")
    assert code == 0, err
    assert SECRET not in out + err + text
    var = key.upper()
    assert f"set {var}: the connector credential {key} (the input held a value for it; it was not copied)" in err
    connector = yaml.safe_load(text)["connector"]
    assert connector["credential"] == {key: f"${{env:{var}}}"}
    assert connector["parameters"] == {"model": "m"}
    action = connector["actions"][0]
    value = action[where[0]] if len(where) == 1 else action[where[0]][where[1]]
    assert f"${{credential.{key}}}" in value
    code, _out, err = run(capsys, "validate", "lit.yaml")
    assert code == 2 and f"environment variable {var} is not set" in err  # nothing else is wrong


def test_numbers_and_placeholders_in_secret_looking_parameters_stay_parameters() -> None:
    body = {"name": "P", "protocol": "http", "credential": {"api_key": "<YOUR API KEY>"},
            "parameters": {"model": "m", "max_tokens": "1024", "token_limit": 50, "api_key_hint": "<YOUR KEY>"},
            "actions": [{"action_type": "predict", "method": "POST", "url": "https://llm.example.com/v1/chat",
                         "headers": {"Authorization": "Bearer ${credential.api_key}"}, "request_body": CHAT_BODY}]}
    imported = import_connector(json.dumps(body))
    connector = yaml.safe_load(imported.text)["connector"]
    assert connector["parameters"] == body["parameters"]
    assert connector["credential"] == {"api_key": "${env:API_KEY}"} and imported.literals == []


def test_no_predict_action_exits_2_with_the_reason(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"name": "batch", "protocol": "http", "credential": {"k": "v"},
            "actions": [{"action_type": "batch_predict_status", "method": "GET", "url": "https://a.example/b"}]}
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(body)))
    code, out, err = run(capsys, "import", "-")
    assert code == 2 and out == ""
    assert "no predict action" in err and "batch_predict_status" in err
    with pytest.raises(InvalidInputError, match="not a JSON connector body"):
        import_connector("{ not json")
    with pytest.raises(InvalidInputError, match="expected a JSON object"):
        import_connector("[1, 2]")


def test_no_derivable_probe_is_written_with_a_comment_and_exits_2(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture) -> None:
    body = {"name": "Search helper", "protocol": "http", "credential": {"token": "<YOUR TOKEN>"},
            "actions": [{"action_type": "predict", "method": "POST", "url": "https://api.example.com/run",
                         "request_body": '{"question": "${parameters.question}", "docs": ${parameters.docs}}'}]}
    (tmp_path / "body.json").write_text(json.dumps(body), encoding="utf-8")
    code, _out, err = run(capsys, "import", "body.json", "-o", "helper.yaml")
    assert code == 2
    text = (tmp_path / "helper.yaml").read_text(encoding="utf-8")
    assert "# NOTE: no smoke probe could be derived" in text
    assert "${parameters.docs}" in err and "smoke.parameters" in err
    problems = validate_file(tmp_path / "helper.yaml", env={"TOKEN": "t0ken-value"})
    assert sorted(p.message for p in problems) == [
        "placeholder ${parameters.docs} is not defined (connector.parameters or smoke.parameters)",
        "placeholder ${parameters.question} is not defined (connector.parameters or smoke.parameters)"]
    code, _out, err = run(capsys, "import", "body.json", "-o", "helper.yaml")
    assert code == 2 and "already exists" in err


def test_names_variables_and_comments() -> None:
    assert env_name("openAI_key", "http") == "OPENAI_KEY"
    assert env_name("access_key", "aws_sigv4") == "AWS_ACCESS_KEY_ID"
    assert env_name("access_key", "http") == "ACCESS_KEY"
    assert env_name("roleArn", "aws_sigv4") == "AWS_ROLE_ARN"
    assert env_name("2fa-token", "http") == "_2FA_TOKEN"
    assert strip_comments('{"url": "https://x//y", // note\n "a": "\\"//"}') == '{"url": "https://x//y", \n "a": "\\"//"}'
    imported = import_connector((DATA / "openai-chat.json").read_text(encoding="utf-8"), "openai-chat.json",
                                name="My GPT")
    assert imported.name == "my-gpt"


def test_access_control_fields_are_dropped_with_a_note() -> None:
    body: Any = json.loads((DATA / "deepseek-chat.json").read_text(encoding="utf-8").split("\n", 1)[1])
    body.update(backend_roles=["ml"], access_mode="public")
    imported = import_connector(json.dumps(body))
    assert imported.problems == []
    assert "backend_roles" not in yaml.safe_load(imported.text)["connector"]
    assert any(n.startswith("dropped access_mode") for n in imported.notes)
