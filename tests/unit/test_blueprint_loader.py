"""YAML reading with line numbers, --set overrides, and load_blueprint/load_blueprints."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm.blueprint import Blueprint, Expectation, load_blueprint, load_blueprints
from opensearch_llm.blueprint.source import apply_overrides, parse_override, parse_text, read_source
from opensearch_llm.errors import BlueprintError, MissingEnvError
from opensearch_llm.secrets import Secret

KEY = "sk-loader-secret-5678"
ENV = {"LOADER_KEY": KEY}

MINIMAL = """\
blueprint: mini
description: Minimal test blueprint
requires_env: [LOADER_KEY]
connector:
  parameters:
    base_url: "${env:LOADER_BASE:-https://api.example.com}"
    model: m1
  credential:
    key: "${env:LOADER_KEY}"
  actions:
    - action_type: predict
      method: POST
      url: "${parameters.base_url}/chat/completions"
      headers:
        Authorization: "Bearer ${credential.key}"
      request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'
smoke:
  parameters:
    messages: [{role: user, content: hi}]
"""


@pytest.fixture
def write(tmp_path: Path):
    def _write(text: str, name: str = "bp.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


# --- source ------------------------------------------------------------------------------

def test_lines_are_recorded_per_key_path() -> None:
    source = parse_text(MINIMAL, "bp.yaml")
    assert source.problems == []
    assert source.lines[("blueprint",)] == 1
    assert source.lines[("connector", "credential", "key")] == 9
    assert source.lines[("connector", "actions", 0)] == 11
    assert source.lines[("connector", "actions", 0, "url")] == 13
    assert source.lines[("smoke", "parameters", "messages", 0, "role")] == 19


def test_scalars_use_safe_loader_resolution() -> None:
    source = parse_text("a: 3\nb: 1.5\nc: true\nd: null\ne: '3'\nf: 60s\ng: 2024-01-02\nh: 0x10\n", "x.yaml")
    assert source.data == {"a": 3, "b": 1.5, "c": True, "d": None, "e": "3", "f": "60s", "g": "2024-01-02", "h": 16}


def test_keys_are_strings_and_anchors_merge() -> None:
    source = parse_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n1: one\n", "x.yaml")
    assert source.data == {"base": {"x": 1, "y": 2}, "other": {"x": 1, "y": 3}, "1": "one"}


def test_duplicate_keys_are_problems() -> None:
    source = parse_text("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n", "dup.yaml")
    assert [(p.line, p.path, p.message) for p in source.problems] == [
        (4, "b.c", "duplicate key 'c' (first defined on line 3)"),
        (5, "a", "duplicate key 'a' (first defined on line 1)"),
    ]
    assert source.data == {"a": 1, "b": {"c": 1}}


def test_syntax_error_is_one_problem_with_line() -> None:
    source = parse_text("a: 1\nb: [1, 2\nc: 3\n", "bad.yaml")
    assert source.data is None
    assert len(source.problems) == 1
    problem = source.problems[0]
    assert problem.file == "bad.yaml" and problem.line == 3
    assert problem.message.startswith("YAML syntax error:")


def test_non_mapping_root() -> None:
    assert parse_text("- a\n- b\n", "l.yaml").problems[0].message == "the top level must be a mapping, got a list"
    assert parse_text("", "e.yaml").problems[0].message.startswith("file is empty")


def test_recursive_alias_is_a_problem_not_a_crash() -> None:
    source = parse_text("a: &x [1, *x]\n", "r.yaml")
    assert any("recursive YAML alias" in p.message for p in source.problems)


def test_unreadable_file(tmp_path: Path) -> None:
    source = read_source(tmp_path / "missing.yaml")
    assert source.data is None
    assert source.problems[0].line is None
    assert source.problems[0].message.startswith("cannot read blueprint:")


# --- overrides ------------------------------------------------------------------------------

@pytest.mark.parametrize("text, path, value", [
    ("deploy.timeout=60s", ("deploy", "timeout"), "60s"),
    ("ollama.pull=true", ("ollama", "pull"), True),
    ("connector.client_config.read_timeout=3", ("connector", "client_config", "read_timeout"), 3),
    ("connector.actions[0].url=http://h:1/x", ("connector", "actions", 0, "url"), "http://h:1/x"),
    ("connector.parameters.model=llama3.2:1b", ("connector", "parameters", "model"), "llama3.2:1b"),
    ("smoke.parameters.texts=[a, b]", ("smoke", "parameters", "texts"), ["a", "b"]),
    ("description=", ("description",), ""),
    ("a.b=x=y", ("a", "b"), "x=y"),
])
def test_parse_override(text: str, path: tuple, value: object) -> None:
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["novalue", "a..b=1", "=1", "a[x]=1", "a=[1, 2"])
def test_parse_override_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_override(text)


def test_apply_overrides_creates_and_reports() -> None:
    data = {"deploy": {"timeout": "60s"}, "connector": {"actions": [{"url": "u"}]}, "name": "x"}
    result = apply_overrides(data, ["deploy.timeout=2m", "ollama.pull=true", "connector.actions[3].url=v",
                                    "name.sub=1", "bogus"])
    assert result.data["deploy"] == {"timeout": "2m"}
    assert result.data["ollama"] == {"pull": True}
    assert data["deploy"]["timeout"] == "60s"  # input untouched
    assert result.paths == ["deploy.timeout", "ollama.pull"]
    assert [(p.file, p.line, p.path) for p in result.problems] == [
        ("--set", None, "connector.actions[3].url"), ("--set", None, "name.sub"), ("--set", None, "bogus")]
    assert "out of range" in result.problems[0].message
    assert "name is not a mapping" in result.problems[1].message


# --- load_blueprint ---------------------------------------------------------------------------

def test_load_builds_model_with_defaults(write) -> None:
    bp = load_blueprint(write(MINIMAL), env=ENV)
    assert isinstance(bp, Blueprint)
    assert bp.name == "mini" and bp.requires_env == ("LOADER_KEY",)
    assert bp.model_group.name == "mini" and bp.model_group.description == "Minimal test blueprint"
    assert bp.model.name == "mini" and bp.model.function_name == "remote" and bp.model.extra == {}
    assert bp.deploy.timeout == 60.0 and bp.smoke.timeout == 60.0
    assert bp.predict.style == "messages" and bp.predict.input == "messages" and bp.predict.reasoning is None
    assert bp.smoke.expect == (Expectation(path=bp.predict.answer, not_empty=True),)
    assert bp.ollama is None
    body = bp.connector.body
    assert body["name"] == "mini" and body["version"] == "1" and body["protocol"] == "http"
    assert body["description"] == "Minimal test blueprint"
    assert body["parameters"] == {"base_url": "https://api.example.com", "model": "m1"}
    assert body["credential"] == {"key": Secret(KEY)}
    assert list(body) == ["name", "description", "version", "protocol", "parameters", "credential", "actions"]
    assert bp.connector.predict_action["url"] == "${parameters.base_url}/chat/completions"


def test_secrets_never_in_repr_or_masked_dict(write) -> None:
    bp = load_blueprint(write(MINIMAL), env=ENV)
    assert KEY not in repr(bp)
    assert KEY not in str(bp.to_dict())
    assert bp.to_dict()["connector"]["credential"] == {"key": "***"}
    assert bp.to_dict(masked=False)["connector"]["credential"]["key"].reveal() == KEY


def test_overrides_reach_the_model(write) -> None:
    bp = load_blueprint(write(MINIMAL), env=ENV, overrides=["deploy.timeout=1m30s", "ollama.pull=true",
                                                             "connector.parameters.model=m2", "smoke.timeout=500ms"])
    assert bp.deploy.timeout == 90.0 and bp.smoke.timeout == 0.5
    assert bp.connector.parameters["model"] == "m2"
    assert bp.ollama is not None and bp.ollama.pull is True
    assert bp.ollama.model == "m2" and bp.ollama.host == "https://api.example.com"


def test_overriding_a_credential_makes_a_secret(write) -> None:
    bp = load_blueprint(write(MINIMAL), env=ENV, overrides=["connector.credential.key=sk-override-9999"])
    assert bp.connector.body["credential"]["key"] == Secret("sk-override-9999")


def test_custom_fields(write) -> None:
    text = MINIMAL.replace("blueprint: mini\n", "blueprint: mini\nmodel_group: {name: grp}\n"
                           "model: {name: mdl, description: d, interface: {input: {}}, deploy_setting: "
                           "{model_ttl_minutes: 10}}\npredict: {style: prompt, reasoning: a.b}\n"
                           "deploy: {timeout: 90}\n")
    text = text.replace('"messages": ${parameters.messages}', '"prompt": "${parameters.prompt}"')
    bp = load_blueprint(write(text), env=ENV)
    assert bp.model_group.name == "grp" and bp.model.name == "mdl" and bp.model.description == "d"
    assert bp.model.extra == {"interface": {"input": {}}, "deploy_setting": {"model_ttl_minutes": 10}}
    assert bp.predict.input == "prompt" and bp.predict.reasoning == "a.b"
    assert bp.deploy.timeout == 90.0


def test_missing_env_only_raises_missing_env_error(write) -> None:
    with pytest.raises(MissingEnvError) as info:
        load_blueprint(write(MINIMAL), env={})
    assert [(p.line, p.path) for p in info.value.problems] == [(3, "requires_env[0]")]
    assert "LOADER_KEY" in str(info.value) and ".env.example" in str(info.value)


def test_env_file_supplies_values(write, tmp_path: Path) -> None:
    env_file = tmp_path / "ci.env"
    env_file.write_text(f"LOADER_KEY={KEY}\nLOADER_BASE=http://127.0.0.1:8089\n")
    bp = load_blueprint(write(MINIMAL), env={}, env_file=env_file)
    assert bp.connector.parameters["base_url"] == "http://127.0.0.1:8089"


def test_mixed_problems_raise_blueprint_error_with_all(write) -> None:
    text = MINIMAL.replace("blueprint: mini", "blueprint: Mini").replace("method: POST", "method: PATCH")
    with pytest.raises(BlueprintError) as info:
        load_blueprint(write(text), env={})
    assert not isinstance(info.value, MissingEnvError)
    assert [p.line for p in info.value.problems] == [1, 3, 12]
    assert info.value.exit_code == 2


def test_missing_file_raises_with_one_problem(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as info:
        load_blueprint(tmp_path / "nope.yaml", env=ENV)
    assert len(info.value.problems) == 1 and info.value.problems[0].line is None


def test_load_blueprints_collects_across_files(write) -> None:
    good = write(MINIMAL, "good.yaml")
    bad = write(MINIMAL.replace("blueprint: mini", "blueprint: BAD"), "bad.yaml")
    worse = write("- not a mapping\n", "worse.yaml")
    assert [b.name for b in load_blueprints([good, good], env=ENV)] == ["mini", "mini"]
    with pytest.raises(BlueprintError) as info:
        load_blueprints([good, bad, worse], env=ENV)
    assert [Path(p.file).name for p in info.value.problems] == ["bad.yaml", "worse.yaml"]
    with pytest.raises(MissingEnvError):
        load_blueprints([good, good], env={})


# --- expectations --------------------------------------------------------------------------------

RESPONSE = {"inference_results": [{"output": [{"dataAsMap": {"choices": [{"message": {"content": "Pong!"}}],
                                                             "vec": [0.1, 0.2], "empty": "  "}}]}]}
BASE = "inference_results[0].output[0].dataAsMap."


@pytest.mark.parametrize("expectation, failure", [
    (Expectation(BASE + "choices[0].message.content", not_empty=True), None),
    (Expectation(BASE + "empty", not_empty=True), "expected a non-empty value"),
    (Expectation(BASE + "choices[0].message.content", equals="Pong!"), None),
    (Expectation(BASE + "choices[0].message.content", equals="pong!", ignore_case=True), None),
    (Expectation(BASE + "choices[0].message.content", equals="pong!"), "expected 'pong!', got 'Pong!'"),
    (Expectation(BASE + "choices[0].message.content", contains="ong"), None),
    (Expectation(BASE + "choices[0].message.content", contains="PONG", ignore_case=True), None),
    (Expectation(BASE + "choices[0].message.content", contains="ping"), "expected it to contain 'ping'"),
    (Expectation(BASE + "choices[0].message.content", regex=r"^pong", ignore_case=True), None),
    (Expectation(BASE + "choices[0].message.content", regex=r"^pong"), "expected a match for /^pong/"),
    (Expectation(BASE + "vec", equals=[0.1, 0.2]), None),
    (Expectation(BASE + "vec", contains="0.2"), None),
    (Expectation(BASE + "missing", not_empty=True), "'missing' not found at inference_results[0].output[0].dataAsMap"),
])
def test_expectation_check(expectation: Expectation, failure: str | None) -> None:
    result = expectation.check(RESPONSE)
    if failure is None:
        assert result is None
    else:
        assert result is not None and failure in result
