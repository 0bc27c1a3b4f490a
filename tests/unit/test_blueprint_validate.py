"""Validation: schema messages, semantic rules, locations, ordering and masking."""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from opensearch_llm.blueprint import parse_duration, validate_file
from opensearch_llm.blueprint.checks import url_problem
from opensearch_llm.blueprint.validate import json_type
from opensearch_llm.errors import Problem

KEY = "sk-validate-secret-31337"
ENV = {"V_KEY": KEY}

GOOD = """\
blueprint: good
requires_env: [V_KEY]
connector:
  parameters:
    base_url: https://api.example.com
    model: m
  credential:
    api_key: "${env:V_KEY}"
  actions:
    - action_type: predict
      method: POST
      url: "${parameters.base_url}/chat/completions"
      headers:
        Authorization: "Bearer ${credential.api_key}"
      request_body: '{ "model": "${parameters.model}", "messages": ${parameters.messages} }'
smoke:
  parameters:
    messages: [{role: user, content: hi}]
"""


@pytest.fixture
def check(tmp_path: Path):
    def _check(text: str, env: dict = ENV, overrides: tuple = ()) -> List[Problem]:
        path = tmp_path / "bp.yaml"
        path.write_text(text)
        return validate_file(path, env=env, overrides=overrides)
    return _check


def messages(problems: List[Problem]) -> List[str]:
    return [p.message for p in problems]


def test_good_blueprint_has_no_problems(check) -> None:
    assert check(GOOD) == []


def test_problem_carries_file_line_and_path(check, tmp_path: Path) -> None:
    [problem] = check(GOOD.replace("method: POST", "method: PATCH"))
    assert problem == Problem(str(tmp_path / "bp.yaml"), 11, "connector.actions[0].method",
                              "expected one of POST, GET, PUT, DELETE, got 'PATCH'")
    assert str(problem).endswith("bp.yaml:11: connector.actions[0].method: expected one of POST, GET, PUT, DELETE, "
                                 "got 'PATCH'")


def test_every_problem_at_once_sorted_by_line(check) -> None:
    text = GOOD.replace("blueprint: good", "blueprint: Good").replace("model: m", "model: m\n    model: n")
    text = text.replace("method: POST", "method: post") + "deploy: {timeout: forever}\nextra: 1\n"
    problems = check(text)
    assert [p.line for p in problems] == sorted(p.line for p in problems)
    assert [(p.line, p.path) for p in problems] == [
        (1, "blueprint"), (7, "connector.parameters.model"), (12, "connector.actions[0].method"),
        (20, "deploy.timeout"), (21, "extra")]


def test_unknown_key_did_you_mean(check) -> None:
    [problem] = check(GOOD.replace("connector:", "conector:") + "connector: {credential: {a: bcde}, actions: []}\n")[:1]
    assert problem.message == "unknown key 'conector' (did you mean 'connector'?)"
    assert problem.line == 3


def test_missing_required_keys_at_parent_line(check) -> None:
    problems = check("blueprint: x\nsmoke:\n  timeout: 3s\n")
    assert [(p.line, p.path, p.message) for p in problems] == [
        (1, "", "missing required key 'connector'"), (2, "smoke", "missing required key 'parameters'")]


def test_wrong_type_message(check) -> None:
    [problem] = check(GOOD.replace("blueprint: good", "blueprint: 7"))
    assert problem.message == "expected string, got integer"


def test_protocols_and_function_name(check) -> None:
    assert check(GOOD.replace("  parameters:\n    base_url", "  protocol: aws_sigv4\n  parameters:\n    base_url", 1)) == []
    [problem] = check(GOOD + "model: {function_name: text_embedding}\n")
    assert problem.path == "model.function_name" and "must be 'remote'" in problem.message


def test_empty_credential_message(check) -> None:
    text = GOOD.replace('  credential:\n    api_key: "${env:V_KEY}"', "  credential: {}")
    text = text.replace("requires_env: [V_KEY]\n", "").replace("Bearer ${credential.api_key}", "${credential.x}")
    problems = check(text)
    assert messages(problems) == ["empty credential: ML Commons requires a non-empty credential; use a dummy value "
                                  "such as {api_key: unused} for endpoints without auth"]


@pytest.mark.parametrize("url, fragment", [
    ("ftp://h/x", "url scheme 'ftp' is not allowed"),
    ("api.example.com/x", "url is not an absolute http(s) URL"),
    ("https:///x", "url has no host"),
    ("${parameters.host}/x", "placeholder ${parameters.host} is not defined in connector.parameters"),
])
def test_url_rules(check, url: str, fragment: str) -> None:
    [problem] = check(GOOD.replace('"${parameters.base_url}/chat/completions"', f'"{url}"'))
    assert fragment in problem.message and problem.line == 12


def test_url_problem_helper() -> None:
    assert url_problem("http://127.0.0.1:11434/api/chat") is None
    assert url_problem("https://api.deepseek.com/chat/completions") is None
    assert url_problem("localhost:11434/api") is not None


def test_no_predict_action(check) -> None:
    [problem] = check(GOOD.replace("action_type: predict", "action_type: execute"))
    assert problem.message.startswith("no predict action") and problem.path == "connector.actions"


def test_body_samples_come_from_smoke_then_connector_then_input(check) -> None:
    prompt_body = '{ "model": "${parameters.model}", "prompt": "${parameters.prompt}", "n": ${parameters.n} }'
    text = GOOD.replace("""'{ "model": "${parameters.model}", "messages": ${parameters.messages} }'""", f"'{prompt_body}'")
    text = text.replace("messages: [{role: user, content: hi}]", 'prompt: "say \\"hi\\""\n    n: 2')
    assert check(text) == []
    # the predict input parameter counts as defined even when the probe does not set it
    text2 = GOOD.replace("messages: [{role: user, content: hi}]", "other: 1")
    assert check(text2) == []


def test_unknown_body_placeholder_is_one_problem(check) -> None:
    body = '{ "model": "${parameters.model}", "messages": ${parameters.messages}, "t": ${parameters.temp} }'
    problems = check(GOOD.replace("""'{ "model": "${parameters.model}", "messages": ${parameters.messages} }'""",
                                  f"'{body}'"))
    assert messages(problems) == [
        "placeholder ${parameters.temp} is not defined (connector.parameters or smoke.parameters)"]


def test_quoted_array_placeholder_breaks_json(check) -> None:
    [problem] = check(GOOD.replace('"messages": ${parameters.messages}', '"messages": "${parameters.messages}"'))
    assert problem.message.startswith("request_body is not valid JSON once placeholders are filled")


def test_credential_placeholders(check) -> None:
    problems = check(GOOD.replace("${credential.api_key}", "${credential.nope}"))
    assert messages(problems) == ["placeholder ${credential.nope} names no credential (defined: api_key)"]


@pytest.mark.parametrize("header", ["Authorization", "api-key", "X-API-Key", "api_key", "X-Session-Token",
                                    "x-goog-api-key", "Ocp-Apim-Subscription-Key", "X-Client-Secret",
                                    "X-Signature", "Proxy-Authorization"])
def test_literal_secret_headers(check, header: str) -> None:
    text = GOOD.replace('Authorization: "Bearer ${credential.api_key}"', f"{header}: sk-literal-abcdef123")
    [problem] = check(text)
    assert problem.message == f"literal secret in header '{header}': use ${{credential.<name>}}"
    assert "sk-literal" not in str(problem)


def test_secret_values_are_masked_in_every_message(check) -> None:
    text = GOOD.replace('url: "${parameters.base_url}/chat/completions"', 'url: "${env:V_KEY}/x"')
    text = text.replace('"Bearer ${credential.api_key}"', '"Bearer ${env:V_KEY}"')
    problems = check(text)
    assert len(problems) == 2
    assert all(KEY not in str(p) for p in problems)
    assert "'***/x'" in problems[0].message


@pytest.mark.parametrize("value, seconds", [
    (30, 30.0), (1.5, 1.5), ("30s", 30.0), ("500ms", 0.5), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0),
    (" 45 ", 45.0), ("1.5m", 90.0),
])
def test_parse_duration(value, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["5 minutes", "1m30", "", "s", "0s", 0, -1, True, None, "30sec"])
def test_parse_duration_rejects(value) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


def test_duration_messages(check) -> None:
    assert messages(check(GOOD + "deploy: {timeout: 5 minutes}\n")) == ["bad duration '5 minutes' (use e.g. 30s, 2m, 500ms)"]
    assert messages(check(GOOD + "deploy: {timeout: 0s}\n")) == ["bad duration '0s' (must be greater than 0)"]
    assert check(GOOD + "deploy: {timeout: 1m30s}\n") == []


def test_expectation_rules(check) -> None:
    text = GOOD + ("  expect:\n"
                   "    - {path: a.b, contains: x, regex: y}\n"
                   "    - {path: a.b}\n"
                   "    - {path: 'a..b', not_empty: true}\n"
                   "    - {path: a, regex: '(x'}\n"
                   "    - {path: a, equals: 3, ignore_case: true}\n")
    problems = check(text)
    assert [(p.line, p.message) for p in problems] == [
        (20, "an expectation needs exactly one of equals, contains, regex, not_empty, length (got contains, regex)"),
        (21, "an expectation needs exactly one of equals, contains, regex, not_empty, length (got none)"),
        (22, "bad path 'a..b': empty segment at position 2"),
        (23, "bad regex '(x': missing ), unterminated subpattern at position 0"),
    ]


def test_missing_env_does_not_cascade(check) -> None:
    text = GOOD.replace("base_url: https://api.example.com", 'base_url: "${env:V_BASE}"')
    text = text.replace("blueprint: good", 'blueprint: "${env:V_NAME}"')
    problems = check(text)
    assert [(p.line, p.message.split(" (")[0]) for p in problems] == [
        (1, "environment variable V_NAME is not set"), (5, "environment variable V_BASE is not set")]


def test_override_problems_point_at_set(check) -> None:
    problems = check(GOOD, overrides=("deploy.timeout=5 minutes", "smoke..x=1"))
    assert [(p.file, p.line, p.path) for p in problems] == [
        ("--set", None, "deploy.timeout"), ("--set", None, "smoke..x")]
    assert "bad duration '5 minutes'" in problems[0].message
    assert problems[1].message.startswith("bad override 'smoke..x=1': bad path 'smoke..x'")


def test_override_can_fix_a_problem(check) -> None:
    broken = GOOD.replace("method: POST", "method: PATCH")
    assert check(broken, overrides=("connector.actions[0].method=POST",)) == []


@pytest.mark.parametrize("value, name", [(True, "boolean"), (3, "integer"), (1.5, "number"), ("s", "string"),
                                         ([], "array"), ({}, "object"), (None, "null")])
def test_json_type(value, name: str) -> None:
    assert json_type(value) == name


def test_schema_file_is_in_sync() -> None:
    from opensearch_llm.blueprint.schema import schema_json
    path = Path(__file__).resolve().parents[2] / "opensearch_llm" / "schema" / "blueprint.schema.json"
    assert path.read_text(encoding="utf-8") == schema_json()
