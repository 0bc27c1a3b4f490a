"""JSON Schema of the consumer sections: ``rag``, ``agent`` and ``ingest`` (see :mod:`blueprint.consumers`)."""

from __future__ import annotations

from opensearch_llm.blueprint.schema_fields import EXPECTATION, duration, field, integer, obj, open_map

RESOURCE_NAME = r"^[a-z0-9][a-z0-9._-]{0,99}$"


def _name(title: str, description: str) -> dict:
    return field("string", title, description + " Lowercase letters, digits, '.', '_' and '-'; a smoke run "
                                                "appends its run id.", pattern=RESOURCE_NAME)


def _expect(where: str) -> dict:
    return field("array", "Expectations", f"Checks on {where}; default: the answer is not empty.", items=EXPECTATION)


def _question_smoke(answer_in: str, extra: dict) -> dict:
    return obj("Smoke", f"Questions asked through the consumer; paths point into {answer_in}.", {
        "question": field("string", "Question", "The first question.", minLength=1),
        "expect": _expect("the first answer"),
        "follow_up": field("string", "Follow-up", "A second question in the same conversation memory: its answer "
                                                  "shows whether the history reached the model.", minLength=1),
        "follow_up_expect": _expect("the follow-up answer"),
        "timeout": duration("Timeout", "How long each call may take (default 60s)."),
        **extra,
    }, required=("question",))


_DOCUMENTS = field("array", "Documents", "Seed documents, indexed when the index is created (and by every smoke run).",
                   items={"type": "object"})

RAG = obj("RAG", "Retrieval-augmented generation: an index with seed documents and a search pipeline whose "
                 "retrieval_augmented_generation processor answers with this model.", {
    "index": _name("Index", "The index the pipeline searches."),
    "pipeline": _name("Search pipeline", "The search pipeline's name (default: the index name)."),
    "context_fields": field("array", "Context fields", "Fields of each hit sent to the model as context "
                                                      "(default [text]).", items={"type": "string", "minLength": 1},
                            minItems=1),
    "mappings": open_map("Mappings", "The index mappings (default: each context field as text)."),
    "documents": _DOCUMENTS,
    "llm_model": field("string", "LLM model", "The model name the processor sends (default: the connector's "
                                              "model parameter).", minLength=1),
    "system_prompt": field("string", "System prompt", "The processor's system prompt."),
    "user_instructions": field("string", "User instructions", "The processor's user instructions."),
    "memory": field("boolean", "Memory", "Ask in a conversation memory (default true): needs "
                                         "plugins.ml_commons.memory_feature_enabled."),
    "smoke": _question_smoke("the search response (ext.retrieval_augmented_generation.answer)", {
        "context_size": integer("Context size", "How many hits go to the model (default 3).", 1),
    }),
}, required=("index", "smoke"))

AGENT = obj("Agent", "An agent whose tool (MLModelTool) is this model.", {
    "name": field("string", "Agent name", "Default: the blueprint name.", minLength=1),
    "description": field("string", "Description", "Default: the blueprint description."),
    "type": field("string", "Agent type", "conversational_flow (with conversation memory, default) or flow.",
                  enum=["conversational_flow", "flow"]),
    "memory": field("boolean", "Memory", "conversational_flow only: keep a conversation memory (default true)."),
    "tool": obj("Tool", "The MLModelTool.", {
        "name": field("string", "Tool name", "Default: answer (the name of its output).", minLength=1),
        "parameters": open_map("Tool parameters", "Predict parameters besides model_id, e.g. a messages template "
                                                  "with ${parameters.question} (ML Commons escapes plain text for "
                                                  "JSON).", {"type": "string"}),
    }),
    "smoke": _question_smoke("the _execute response (inference_results[0].output[-1].result)", {}),
}, required=("smoke",))

INGEST = obj("Ingest", "An ml_inference ingest pipeline that embeds a text field into a knn_vector field (Lucene "
                       "engine) of an index it creates; needs the k-NN plugin.", {
    "index": _name("Index", "The k-NN index; its default pipeline is the ingest pipeline."),
    "pipeline": _name("Ingest pipeline", "The ingest pipeline's name (default: the index name)."),
    "source_field": field("string", "Source field", "The text field to embed (default text).", minLength=1),
    "vector_field": field("string", "Vector field", "The knn_vector field (default embedding).", minLength=1),
    "dimension": integer("Dimension", "The vector dimension the model returns.", 1),
    "space_type": field("string", "Space type", "Distance of the k-NN search (default l2).",
                        enum=["l2", "cosinesimil", "innerproduct"]),
    "documents": _DOCUMENTS,
    "smoke": obj("Smoke", "A k-NN query with the embedding of a text; paths point into the search response.", {
        "query": field("string", "Query text", "Embedded through the model, then searched for.", minLength=1),
        "k": integer("k", "Nearest neighbours to fetch (default 1).", 1),
        "expect": _expect("the k-NN search response (default: the nearest hit's _source is not empty)"),
        "timeout": duration("Timeout", "How long each call may take (default 60s)."),
    }, required=("query",)),
}, required=("index", "dimension", "documents", "smoke"))
