"""Blueprint sections for the model's consumers (rag, agent, ingest): loading, validation, schema, names."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import List


from opensearch_llm.blueprint import load_blueprint, validate_file
from opensearch_llm.blueprint.consumers import AGENT_FLAG, MEMORY_FLAG, RAG_FLAG
from opensearch_llm.blueprint.identity import load_identity
from opensearch_llm.errors import Problem
from opensearch_llm.lifecycle.naming import names_for

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-consumer-test-4711"}
BASE = (ROOT / "tests" / "unit" / "test_blueprint_validate.py").read_text().split('GOOD = """\\\n')[1].split('"""')[0]


def check(tmp_path: Path, extra: str) -> List[Problem]:
    path = tmp_path / "bp.yaml"
    path.write_text(BASE.replace("requires_env: [V_KEY]\n", "") .replace("${env:V_KEY}", "k") + extra)
    return validate_file(path, env={})


def test_deepseek_rag_builds_its_pipeline_index_and_questions() -> None:
    bp = load_blueprint(ROOT / "connectors" / "deepseek-rag.yaml", env=ENV)
    rag = bp.consumers.rag
    assert rag is not None and rag.index == "deepseek-rag-docs" and rag.pipeline == "deepseek-rag"
    assert rag.llm_model == "deepseek-flash" and rag.context_fields == ("text",) and len(rag.documents) == 3
    processor = rag.processor("MODEL-1")["retrieval_augmented_generation"]
    assert processor["model_id"] == "MODEL-1" and processor["llm_model"] == "deepseek-flash"
    assert processor["context_field_list"] == ["text"]
    assert rag.smoke.follow_up is not None and rag.smoke.follow_up.expect[0].regex == "(?i)aurora"
    assert bp.consumers.flags == (RAG_FLAG, MEMORY_FLAG)
    assert bp.consumer_names == (("rag_index", "deepseek-rag-docs"), ("search_pipeline", "deepseek-rag"))


def test_ollama_agent_registers_a_conversational_flow_agent_with_the_model_as_tool() -> None:
    bp = load_blueprint(ROOT / "connectors" / "ollama-agent.yaml", env={})
    agent = bp.consumers.agent
    assert agent is not None and agent.memory and agent.type == "conversational_flow"
    body = agent.body("MODEL-2", "desc (marker)")
    assert body["memory"] == {"type": "conversation_index"} and body["app_type"] == "opensearch-llm"
    [tool] = body["tools"]
    assert tool["type"] == "MLModelTool" and tool["name"] == "answer" and tool["parameters"]["model_id"] == "MODEL-2"
    assert "${parameters.question}" in tool["parameters"]["messages"]
    filled = re.sub(r"\$\{parameters\.\w+\}", "x", tool["parameters"]["messages"])
    assert json.loads(filled) == [{"role": "user", "content": "xx"}]  # a JSON array once ML Commons fills it
    assert bp.consumers.flags == (AGENT_FLAG, MEMORY_FLAG)


def test_ollama_embed_ingest_writes_lucene_vectors_through_its_default_pipeline() -> None:
    bp = load_blueprint(ROOT / "connectors" / "ollama-embed.yaml", env={}, overrides=["ingest.dimension=8"])
    ingest = bp.consumers.ingest
    assert ingest is not None and ingest.dimension == 8
    body = ingest.index_body()
    vector = body["mappings"]["properties"]["embedding"]
    assert vector == {"type": "knn_vector", "dimension": 8,
                      "method": {"name": "hnsw", "engine": "lucene", "space_type": "l2"}}
    assert body["settings"] == {"index.knn": True, "index.default_pipeline": "ollama-embed-ingest"}
    processor = ingest.processor("MODEL-3", bp.predict.input)["ml_inference"]
    assert processor["input_map"] == [{"input": "$..text"}] and "model_input" not in processor
    assert processor["output_map"] == [{"embedding": "$.inference_results[0].output[0].data"}]
    assert bp.consumers.flags == ()


def test_smoke_names_are_run_scoped_and_lowercase() -> None:
    bp = load_blueprint(ROOT / "connectors" / "deepseek-rag.yaml", env=ENV)
    names = names_for(bp, "20261130T010203-abcdef")
    assert names.consumer("rag_index") == "deepseek-rag-docs-20261130t010203-abcdef"
    assert names.model == "deepseek-rag-20261130T010203-abcdef"


def test_identity_knows_the_consumer_names_without_the_key() -> None:
    identity = load_identity(ROOT / "connectors" / "deepseek-rag.yaml", env={})
    assert identity.consumer_names == (("rag_index", "deepseek-rag-docs"), ("search_pipeline", "deepseek-rag"))


BAD = """
rag:
  index: Docs
  memory: false
  documents: [{text: a}]
  smoke:
    question: q
    follow_up: again?
    expect:
      - path: ext.retrieval_augmented_generation.answer
        regex: "("
agent:
  type: flow
  memory: true
  smoke:
    question: q
    follow_up_expect:
      - {path: a, not_empty: true}
ingest:
  index: vectors
  dimension: 0
  documents: [{title: no text field}]
  smoke: {query: q}
"""


def line_of(tmp_path: Path, fragment: str) -> int:
    lines = (tmp_path / "bp.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(fragment))


def test_every_consumer_problem_is_reported_at_once_with_its_line(tmp_path: Path) -> None:
    problems = check(tmp_path, BAD)
    where = {(p.path, p.line) for p in problems}
    for path, fragment in [("rag.index", "index: Docs"),  # uppercase: not an index name
                           ("ingest.dimension", "dimension: 0"), ("rag.smoke.expect[0].regex", 'regex: "("'),
                           ("rag.smoke.follow_up", "follow_up: again?"), ("agent.memory", "memory: true"),
                           ("agent.smoke.follow_up_expect", "follow_up_expect:"),
                           ("ingest.documents[0]", "documents: [{title")]:
        assert (path, line_of(tmp_path, fragment)) in where, (path, sorted(where))
    text = "\n".join(str(p) for p in problems)
    assert "a follow-up question needs conversation memory" in text
    assert "a flow agent has no memory" in text
    assert "needs a text field 'text'" in text


def test_rag_without_a_model_parameter_must_name_its_llm_model(tmp_path: Path) -> None:
    text = BASE.replace("requires_env: [V_KEY]\n", "").replace("${env:V_KEY}", "k").replace("    model: m\n", "") \
        .replace('"model": "${parameters.model}", ', "")
    path = tmp_path / "bp.yaml"
    path.write_text(text + "rag:\n  index: docs\n  smoke: {question: q}\n")
    [problem] = validate_file(path, env={})
    assert problem.path == "rag" and "set rag.llm_model" in problem.message


def test_published_schema_describes_the_consumer_sections() -> None:
    schema = json.loads((ROOT / "opensearch_llm" / "schema" / "blueprint.schema.json").read_text())
    for key in ("rag", "agent", "ingest"):
        assert schema["properties"][key]["type"] == "object"
    assert schema["properties"]["ingest"]["properties"]["space_type"]["enum"] == ["l2", "cosinesimil", "innerproduct"]
