"""The shipped catalog: names resolve everywhere a BLUEPRINT is taken, `blueprints` lists them, `init` copies one."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from opensearch_llm import catalog
from opensearch_llm.blueprint import load_blueprint, load_blueprints, validate_file
from opensearch_llm.errors import BlueprintError, InvalidInputError
from tests.helpers import run_cli as run

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = sorted(p.stem for p in (ROOT / "connectors").glob("*.yaml"))
ENV = {"DEEPSEEK_API_KEY": "sk-catalog-test-0000", "OPENAI_BASE_URL": "http://127.0.0.1:8000/v1",
       "OPENAI_MODEL": "local-model"}


def test_the_checkout_is_the_catalog_of_an_editable_install() -> None:
    assert catalog.catalog_dir() == ROOT / "connectors"
    assert catalog.shipped_names() == SHIPPED
    assert {"deepseek-chat", "deepseek-reasoner", "ollama-chat", "ollama-generate", "ollama-embed",
            "openai-compatible"} <= set(SHIPPED)


def test_entries_carry_provider_description_and_variables() -> None:
    entries = {e.name: e for e in catalog.entries()}
    deepseek = entries["deepseek-chat"]
    assert deepseek.provider == "DeepSeek" and deepseek.description.startswith("DeepSeek chat")
    assert deepseek.requires == ["DEEPSEEK_API_KEY"]
    reads = {v.name: v for v in deepseek.variables}
    assert reads["DEEPSEEK_BASE_URL"].default == "https://api.deepseek.com" and not reads["DEEPSEEK_BASE_URL"].required
    openai = entries["openai-compatible"]
    assert openai.provider == "OpenAI-compatible"
    assert openai.requires == ["OPENAI_BASE_URL", "OPENAI_MODEL"]
    assert [(v.name, v.default) for v in openai.variables if not v.required] == [
        ("OPENAI_ANSWER_LIMIT", "1024"), ("OPENAI_LIMIT_FIELD", "max_tokens"), ("OPENAI_API_KEY", "no-key-needed")]
    assert entries["ollama-embed"].provider == "Ollama" and entries["ollama-embed"].requires == []


def test_variables_of_a_blueprint() -> None:
    data = {"requires_env": ["A"], "connector": {"x": "${env:B:-b} ${env:A}", "y": ["${env:C}", "${env:B}"]}}
    assert catalog.variables(data) == (catalog.Variable("A", None, True), catalog.Variable("B", "b", True),
                                       catalog.Variable("C", None, True))
    assert catalog.variables({"d": "${env:D:-}"}) == (catalog.Variable("D", "", False),)


def test_a_name_loads_like_its_path() -> None:
    by_name = load_blueprint("deepseek-chat", env=ENV)
    by_path = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env=ENV)
    assert by_name.to_dict() == by_path.to_dict()
    assert load_blueprint("openai-compatible.yaml", env=ENV).name == "openai-compatible"
    assert [bp.name for bp in load_blueprints(["ollama-chat", "ollama-embed"], env={})] == ["ollama-chat", "ollama-embed"]
    assert validate_file("openai-compatible", env=ENV) == []


def test_a_path_wins_over_a_shipped_name(tmp_path: Path) -> None:
    text = (ROOT / "connectors" / "ollama-chat.yaml").read_text(encoding="utf-8")
    (tmp_path / "ollama-chat").write_text(text.replace("description: Ollama chat", "description: mine"), "utf-8")
    assert catalog.resolve("ollama-chat") == Path("ollama-chat")
    assert load_blueprint("ollama-chat", env={}).description.startswith("mine")
    (tmp_path / "ollama-embed").mkdir()  # a directory is no blueprint: the name still means the shipped one
    assert load_blueprint("ollama-embed", env={}).name == "ollama-embed"


def test_an_unknown_name_lists_the_shipped_ones(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(BlueprintError) as info:
        load_blueprint("deepseek-chatt", env=ENV)
    [problem] = info.value.problems
    assert problem.message.startswith("cannot read blueprint:")
    assert f"not a shipped blueprint either (shipped: {', '.join(SHIPPED)})" in problem.message
    code, _out, err = run(capsys, "validate", "deepseek-chatt")
    assert code == 2 and "openai-compatible" in err
    code, _out, err = run(capsys, "validate", "some/dir/missing.yaml")
    assert code == 2 and "shipped" not in err


def test_blueprints_lists_the_catalog(capsys: pytest.CaptureFixture) -> None:
    code, out, _err = run(capsys, "blueprints", "--json")
    assert code == 0
    listed = json.loads(out)
    assert [e["name"] for e in listed] == SHIPPED
    first = listed[0]
    assert set(first) == {"name", "file", "description", "provider", "requires", "reads"}
    assert Path(first["file"]).is_file()
    code, out, _err = run(capsys, "blueprints")
    assert code == 0
    assert "openai-compatible" in out and "requires OPENAI_BASE_URL, OPENAI_MODEL" in out
    assert "reads OPENAI_ANSWER_LIMIT (default 1024), OPENAI_LIMIT_FIELD (default max_tokens), OPENAI_API_KEY (default no-key-needed)" in out


def _schema_target(first_line: str) -> Path:
    assert first_line.startswith(catalog.SCHEMA_COMMENT)
    return Path(unquote(urlparse(first_line[len(catalog.SCHEMA_COMMENT):]).path))


def test_init_writes_an_editable_copy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    code, out, err = run(capsys, "init", "ollama-chat")
    assert code == 0, err
    written = tmp_path / "ollama-chat.yaml"
    assert out.strip() == "ollama-chat.yaml" and written.is_file()
    lines = written.read_text(encoding="utf-8").splitlines()
    shipped = (ROOT / "connectors" / "ollama-chat.yaml").read_text(encoding="utf-8").splitlines()
    assert lines[1:] == shipped[1:]
    assert _schema_target(lines[0]) == catalog.schema_file().resolve() and catalog.schema_file().is_file()
    assert validate_file(written, env={}) == []
    code, _out, err = run(capsys, "init", "ollama-chat")
    assert code == 2 and "already exists" in err and "--force" in err
    written.write_text("edited", encoding="utf-8")
    assert run(capsys, "init", "ollama-chat", "--force")[0] == 0
    assert written.read_text(encoding="utf-8").startswith(catalog.SCHEMA_COMMENT)


def test_init_into_a_path_or_directory(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "init", "openai-compatible", "azure.yaml")[0] == 0
    assert load_blueprint(tmp_path / "azure.yaml", env=ENV).name == "openai-compatible"
    (tmp_path / "mine").mkdir()
    assert catalog.init_copy("deepseek-chat", tmp_path / "mine") == tmp_path / "mine" / "deepseek-chat.yaml"
    code, _out, err = run(capsys, "init", "nope")
    assert code == 2 and "unknown blueprint 'nope'" in err and "deepseek-chat" in err
    with pytest.raises(InvalidInputError):
        catalog.init_copy("../connectors/deepseek-chat")


def test_with_schema_comment_adds_a_missing_first_line() -> None:
    assert catalog.with_schema_comment("blueprint: x\n").splitlines()[1] == "blueprint: x"


def test_azure_recipe_overrides_header_and_url() -> None:
    """The openai-compatible header documents an Azure recipe made of two --set overrides."""
    header = (ROOT / "connectors" / "openai-compatible.yaml").read_text(encoding="utf-8")
    sets = [line.split("--set '", 1)[1].rstrip("'") for line in header.splitlines() if "--set '" in line]
    assert len(sets) == 2
    env = dict(ENV, OPENAI_BASE_URL="https://res.openai.azure.com/openai/deployments/gpt-4o", OPENAI_API_KEY="az-key")
    bp = load_blueprint("openai-compatible", env=env, overrides=sets)
    action = bp.connector.predict_action
    assert action["url"] == "${parameters.base_url}/chat/completions?api-version=2024-10-21"
    assert action["headers"] == {"Content-Type": "application/json", "api-key": "${credential.api_key}"}
    assert bp.connector.parameters["base_url"] == env["OPENAI_BASE_URL"]


def test_demo_loads_its_blueprint_before_it_starts_a_node(monkeypatch: pytest.MonkeyPatch) -> None:
    import opensearch_llm.local as local
    from opensearch_llm import demo

    started = []
    shipped = catalog.shipped
    monkeypatch.setattr(local, "LocalNode", lambda *a, **k: started.append(a))
    monkeypatch.setattr(catalog, "shipped", lambda: {})  # a wheel without its catalog
    with pytest.raises(InvalidInputError, match="shipped blueprint deepseek-chat is not installed"):
        demo.run_demo(say=lambda _m: None)
    assert started == []
    (Path.cwd() / "deepseek-chat").write_text("not a blueprint", encoding="utf-8")  # never the cwd's file
    monkeypatch.setattr(catalog, "shipped", shipped)
    assert demo.shipped_blueprint("deepseek-chat") == ROOT / "connectors" / "deepseek-chat.yaml"
