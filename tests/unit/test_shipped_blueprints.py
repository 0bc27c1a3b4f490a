"""Every blueprint in connectors/ loads with fake env values and matches the published schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from opensearch_llm.blueprint import SCHEMA, load_blueprint, schema_json, validate_file
from opensearch_llm.secrets import Secret, reveal

ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = sorted((ROOT / "connectors").glob("*.yaml"))
SCHEMA_FILE = ROOT / "opensearch_llm" / "schema" / "blueprint.schema.json"
FAKE_ENV = {"DEEPSEEK_API_KEY": "sk-shipped-fake-0000", "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1",
            "OPENAI_MODEL": "local-model"}
SCHEMA_COMMENT = "# yaml-language-server: $schema=../opensearch_llm/schema/blueprint.schema.json"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_the_eight_blueprints_ship() -> None:
    assert [p.stem for p in CONNECTORS] == [
        "deepseek-chat", "deepseek-rag", "deepseek-reasoner", "ollama-agent", "ollama-chat", "ollama-embed",
        "ollama-generate", "openai-compatible"]


@pytest.mark.parametrize("path", CONNECTORS, ids=lambda p: p.stem)
def test_starts_with_schema_comment(path: Path) -> None:
    assert path.read_text(encoding="utf-8").splitlines()[0] == SCHEMA_COMMENT
    assert (path.parent / SCHEMA_COMMENT.split("=", 1)[1]).resolve() == SCHEMA_FILE


@pytest.mark.parametrize("path", CONNECTORS, ids=lambda p: p.stem)
def test_raw_file_matches_published_schema(path: Path) -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema,
                        cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("path", CONNECTORS, ids=lambda p: p.stem)
def test_loads_and_validates(path: Path) -> None:
    assert validate_file(path, env=FAKE_ENV) == []
    bp = load_blueprint(path, env=FAKE_ENV)
    assert bp.name == path.stem
    assert bp.connector.predict_action["method"] == "POST"
    assert all(isinstance(v, Secret) for v in bp.connector.body["credential"].values())
    assert bp.connector.body["client_config"]["read_timeout"] >= 60
    for expectation in bp.smoke.expect:
        assert expectation.path.startswith("inference_results[0].output[0].")


@pytest.mark.parametrize("path", CONNECTORS, ids=lambda p: p.stem)
def test_header_names_every_variable_it_reads(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    for name in set(__import__("re").findall(r"\$\{env:([A-Z_]+)", text)):
        assert name in header, name
    assert "Offline fake" in header


def test_deepseek_chat_details() -> None:
    bp = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env=FAKE_ENV)
    assert bp.requires_env == ("DEEPSEEK_API_KEY",)
    assert bp.connector.parameters == {"base_url": "https://api.deepseek.com", "model": "deepseek-flash",
                                       "temperature": "1.0", "top_p": "1.0", "max_tokens": "4096"}
    assert reveal(bp.connector.body)["credential"] == {"api_key": "sk-shipped-fake-0000"}
    assert bp.connector.body["client_config"] == {"read_timeout": 60, "connection_timeout": 10, "max_retry_times": 3,
                                                  "retry_backoff_policy": "exponential_full_jitter",
                                                  "retry_backoff_millis": 500, "retry_timeout_seconds": 30}
    action = bp.connector.predict_action
    assert action["url"] == "${parameters.base_url}/chat/completions"
    assert action["headers"]["Authorization"] == "Bearer ${credential.api_key}"
    assert action["request_body"] == (
        '{ "model": "${parameters.model}", "messages": ${parameters.messages}, "thinking": { "type": "disabled" }, '
        '"temperature": ${parameters.temperature}, "top_p": ${parameters.top_p}, "max_tokens": ${parameters.max_tokens} }')
    assert bp.predict.style == "messages" and bp.deploy.timeout == 60.0
    assert bp.smoke.parameters == {"messages": [{"role": "user", "content": "Reply with the single word pong"}]}
    [expect] = bp.smoke.expect
    assert expect.regex == "(?i)pong"
    answer = {"inference_results": [{"output": [{"dataAsMap": {"choices": [{"message": {"content": "Pong."}}]}}]}]}
    assert expect.check(answer) is None


def test_env_overrides_reach_deepseek_parameters() -> None:
    env = dict(FAKE_ENV, DEEPSEEK_BASE_URL="http://127.0.0.1:8089", DEEPSEEK_REASONER_MODEL="r-test")
    bp = load_blueprint(ROOT / "connectors" / "deepseek-reasoner.yaml", env=env)
    assert {k: bp.connector.parameters[k] for k in ("base_url", "model")} == {
        "base_url": "http://127.0.0.1:8089", "model": "r-test"}
    assert bp.predict.reasoning == "inference_results[0].output[0].dataAsMap.choices[0].message.reasoning_content"
    assert bp.connector.body["client_config"]["read_timeout"] == 600 and bp.smoke.timeout == 660.0
    assert [e.not_empty for e in bp.smoke.expect] == [True, True]


def test_ollama_blueprints() -> None:
    chat = load_blueprint(ROOT / "connectors" / "ollama-chat.yaml", env={})
    assert chat.requires_env == ()
    assert chat.connector.parameters == {"base_url": "http://127.0.0.1:11434", "model": "llama3.2:1b", "options": "{}"}
    assert chat.connector.body["credential"] == {"api_key": Secret("ollama-needs-no-key")}
    assert chat.connector.body["client_config"]["read_timeout"] == 300
    assert chat.predict.answer == "inference_results[0].output[0].dataAsMap.message.content"
    assert chat.ollama is not None and chat.ollama.pull is False and chat.ollama.model == "llama3.2:1b"
    gen = load_blueprint(ROOT / "connectors" / "ollama-generate.yaml", env={"OLLAMA_GENERATE_MODEL": "qwen3:4b"})
    assert gen.predict.style == "prompt" and gen.predict.input == "prompt"
    assert gen.connector.parameters["model"] == "qwen3:4b"
    assert gen.connector.predict_action["url"] == "${parameters.base_url}/api/generate"
    assert gen.smoke.parameters == {"prompt": "Reply with the single word pong"}
    embed = load_blueprint(ROOT / "connectors" / "ollama-embed.yaml", env={}, overrides=["ollama.pull=true"])
    assert embed.predict.style == "texts" and embed.predict.input == "input"
    assert embed.connector.parameters["model"] == "nomic-embed-text"
    action = embed.connector.predict_action
    assert action["pre_process_function"] == "connector.pre_process.default.embedding"
    assert action["post_process_function"] == "connector.post_process.cohere.embedding"
    assert embed.predict.answer == "inference_results[0].output[0].data"
    assert embed.smoke.parameters == {"input": ["hello world"]}
    assert embed.smoke.expect[0].length == 768
    assert embed.ollama is not None and embed.ollama.pull is True


def test_deepseek_without_key_names_the_variable() -> None:
    problems = validate_file(ROOT / "connectors" / "deepseek-chat.yaml", env={})
    assert [p.message for p in problems] == [
        "environment variable DEEPSEEK_API_KEY is not set (set it in the environment or in .env; see .env.example)"]


def test_schema_published_and_in_sync() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_json()
    assert SCHEMA["$id"] and SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_env_example_lists_every_variable() -> None:
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("OPENSEARCH_URL", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD", "OPENSEARCH_CA_CERTS",
                 "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "DEEPSEEK_MODEL", "DEEPSEEK_REASONER_MODEL",
                 "OLLAMA_BASE_URL", "OLLAMA_CHAT_MODEL", "OLLAMA_GENERATE_MODEL", "OLLAMA_EMBED_MODEL",
                 "OPENSEARCH_LLM_JOURNAL_DIR", "OPENSEARCH_LLM_CACHE_DIR", "OPENSEARCH_HOME", "OPENSEARCH_JAVA_HOME"):
        assert f"{name}=" in example, name
    for path in CONNECTORS:
        for name in __import__("re").findall(r"\$\{env:([A-Z_]+)", path.read_text(encoding="utf-8")):
            assert f"{name}=" in example, name
