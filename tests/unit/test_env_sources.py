"""A credential goes only where its owner sent it: the key and its endpoint come from one source."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm.blueprint.validate import analyse
DEEPSEEK = Path(__file__).resolve().parents[2] / "connectors" / "deepseek-chat.yaml"
KEY = "sk-env-sources-000000000042"
URL = "https://llm.example.internal"


def _problems(tmp_path: Path, env: dict, file_values: dict, **kwargs) -> list[str]:
    env_file = tmp_path / "vars.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in file_values.items()))
    analysis = analyse(DEEPSEEK, env=env, env_file=env_file, **kwargs)
    return [f"{p.line}:{p.path}: {p.message}" for p in analysis.problems]


def test_key_in_the_environment_and_endpoint_in_the_file_is_refused_at_the_endpoints_line(tmp_path: Path) -> None:
    found = _problems(tmp_path, {"DEEPSEEK_API_KEY": KEY}, {"DEEPSEEK_BASE_URL": URL})
    assert len(found) == 1 and found[0].startswith("35:connector.parameters.base_url: DEEPSEEK_BASE_URL"), found
    assert "from the environment" in found[0] and str(tmp_path / "vars.env") in found[0]
    assert "--trust-env-file" in found[0] and KEY not in found[0]


def test_key_in_the_file_and_endpoint_in_the_environment_is_refused_too(tmp_path: Path) -> None:
    found = _problems(tmp_path, {"DEEPSEEK_BASE_URL": URL}, {"DEEPSEEK_API_KEY": KEY})
    assert len(found) == 1 and "DEEPSEEK_API_KEY from " + str(tmp_path / "vars.env") in found[0], found


@pytest.mark.parametrize("env, file_values, kwargs", [
    ({"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": URL}, {}, {}),  # both from the environment
    ({}, {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": URL}, {}),  # both from the file
    ({"DEEPSEEK_API_KEY": KEY}, {}, {}),  # the endpoint is the blueprint's default
    ({"DEEPSEEK_API_KEY": KEY}, {"DEEPSEEK_MODEL": "deepseek-v4-pro"}, {}),  # the file names a model only
    ({"DEEPSEEK_API_KEY": KEY}, {"DEEPSEEK_BASE_URL": URL}, {"trust_env_file": True}),
    ({"DEEPSEEK_API_KEY": KEY}, {"DEEPSEEK_BASE_URL": URL}, {"overrides": [f"connector.parameters.base_url={URL}"]}),
])
def test_one_source_a_default_a_trusted_file_or_an_override_is_accepted(tmp_path: Path, env: dict,
                                                                      file_values: dict, kwargs: dict) -> None:
    assert _problems(tmp_path, env, file_values, **kwargs) == []


def test_analysis_says_where_each_variable_came_from(tmp_path: Path) -> None:
    env_file = tmp_path / "vars.env"
    env_file.write_text("DEEPSEEK_MODEL=deepseek-v4-pro\n")
    analysis = analyse(DEEPSEEK, env={"DEEPSEEK_API_KEY": KEY}, env_file=env_file)
    assert analysis.env_sources == {"DEEPSEEK_API_KEY": "the environment", "DEEPSEEK_MODEL": str(env_file)}

