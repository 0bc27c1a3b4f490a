"""${env:...} interpolation, env lookup order, requires_env and credential wrapping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from opensearch_llm.blueprint.interpolate import (
    EnvLookup, check_required_env, interpolate, make_env_lookup, wrap_credentials,
)
from opensearch_llm.blueprint.source import Locator, parse_text
from opensearch_llm.secrets import Secret, known_secrets


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def run(yaml_text: str, env: dict, env_file: Path | None = None):
    source = parse_text(yaml_text, "bp.yaml")
    lookup, problems = make_env_lookup(env, env_file)
    assert problems == []
    return interpolate(source.data, source.locator, lookup)


def test_whole_and_partial_strings() -> None:
    result = run('a: "${env:HOST}"\nb: "https://${env:HOST}:${env:PORT}/v1"\n', {"HOST": "h.example", "PORT": "8443"})
    assert result.data == {"a": "h.example", "b": "https://h.example:8443/v1"}
    assert result.problems == []


def test_default_applies_when_unset_or_empty() -> None:
    result = run('a: "${env:X:-fallback}"\nb: "${env:Y:-}"\nc: "${env:Z:-a:-b}"\n', {"X": ""})
    assert result.data == {"a": "fallback", "b": "", "c": "a:-b"}


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "custom.env"
    env_file.write_text("A=from-file\nB=from-file\nC=\n")
    result = run('a: "${env:A}"\nb: "${env:B}"\nc: "${env:C:-dflt}"\n', {"A": "from-env", "B": ""}, env_file)
    assert result.data == {"a": "from-env", "b": "from-file", "c": "dflt"}


def test_default_dot_env_is_read_without_touching_os_environ(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ONLY_IN_DOTENV_1234=dotenv-value\n")
    result = run('a: "${env:ONLY_IN_DOTENV_1234}"\n', {})
    assert result.data == {"a": "dotenv-value"}
    assert "ONLY_IN_DOTENV_1234" not in os.environ


def test_missing_env_file_is_a_problem(tmp_path: Path) -> None:
    _, problems = make_env_lookup({}, tmp_path / "nope.env")
    assert [p.message for p in problems] == ["env file not found"]


def test_ml_commons_placeholders_pass_through() -> None:
    text = 'u: "${parameters.base_url}/x"\nh: "Bearer ${credential.api_key}"\no: "${other} $${env} ${env}"\n'
    result = run(text, {})
    assert result.data == {"u": "${parameters.base_url}/x", "h": "Bearer ${credential.api_key}",
                           "o": "${other} $${env} ${env}"}
    assert result.problems == []


def test_missing_variable_problem_located_once_per_name() -> None:
    text = 'a: "${env:DEEPSEEK_API_KEY}"\nlist:\n  - "x${env:DEEPSEEK_API_KEY}"\n  - "${env:OTHER_VAR}"\n'
    result = run(text, {})
    assert [(p.line, p.path, p.message) for p in result.problems] == [
        (1, "a", "environment variable DEEPSEEK_API_KEY is not set "
                 "(set it in the environment or in .env; see .env.example)"),
        (4, "list[1]", "environment variable OTHER_VAR is not set "
                       "(set it in the environment or in .env; see .env.example)"),
    ]
    assert result.failed_paths == {"a", "list[0]", "list[1]"}
    assert result.data["a"] == "${env:DEEPSEEK_API_KEY}"  # left as is for later checks to skip


def test_message_names_custom_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / "ci.env"
    env_file.write_text("")
    result = run('a: "${env:NOPE_VAR}"\n', {}, env_file)
    assert f"in {env_file};" in result.problems[0].message


def test_malformed_reference() -> None:
    result = run('a: "${env:1X}"\n', {})
    assert result.problems[0].message.startswith("malformed environment reference '${env:1X}'")


def test_non_strings_are_untouched() -> None:
    result = run("a: 3\nb: true\nc: null\nd: [1.5]\n", {})
    assert result.data == {"a": 3, "b": True, "c": None, "d": [1.5]}


def test_credential_strings_become_secrets() -> None:
    text = 'connector:\n  credential:\n    api_key: "${env:K_UNIT}"\n    other: literal-value\n  parameters: {p: "${env:K_UNIT}"}\n'
    result = run(text, {"K_UNIT": "sk-interp-secret-42"})
    cred = result.data["connector"]["credential"]
    assert cred == {"api_key": Secret("sk-interp-secret-42"), "other": Secret("literal-value")}
    assert "sk-interp-secret-42" in known_secrets()
    assert "sk-interp-secret-42" in result.secret_values


def test_secret_named_variables_are_registered() -> None:
    run('h: "Bearer ${env:MY_SERVICE_TOKEN}"\n', {"MY_SERVICE_TOKEN": "tok-registered-77"})
    assert "tok-registered-77" in known_secrets()


def test_wrap_credentials_is_idempotent() -> None:
    data = {"connector": {"credential": {"k": "value-1234"}}}
    once = wrap_credentials(data)
    assert wrap_credentials(once) == once
    assert data["connector"]["credential"]["k"] == "value-1234"  # input untouched


def test_requires_env_checked_per_name_at_its_line() -> None:
    source = parse_text("blueprint: x\nrequires_env:\n  - SET_ONE\n  - EMPTY_ONE\n  - MISSING_ONE\n", "bp.yaml")
    lookup = EnvLookup({"SET_ONE": "v", "EMPTY_ONE": ""})
    problems, missing = check_required_env(source.data, Locator("bp.yaml", source.lines), lookup)
    assert missing == {"EMPTY_ONE", "MISSING_ONE"}
    assert [(p.line, p.path) for p in problems] == [(4, "requires_env[1]"), (5, "requires_env[2]")]
    assert "EMPTY_ONE is not set" in problems[0].message and ".env.example" in problems[0].message


def test_requires_env_suppresses_duplicate_interpolation_problem() -> None:
    source = parse_text('requires_env: [NEED_IT]\na: "${env:NEED_IT}"\n', "bp.yaml")
    lookup = EnvLookup({})
    problems, missing = check_required_env(source.data, source.locator, lookup)
    result = interpolate(source.data, source.locator, lookup, missing)
    assert len(problems) == 1 and result.problems == []
    assert result.failed_paths == {"a"}
