"""The blueprint JSON Schema (draft 2020-12).

Published as ``opensearch_llm/schema/blueprint.schema.json`` for editors (yaml-language-server);
regenerate it with ``python -m opensearch_llm.blueprint.schema > opensearch_llm/schema/blueprint.schema.json``.
The schema checks structure; :mod:`opensearch_llm.blueprint.validate` adds the semantic rules.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict

from opensearch_llm.blueprint.schema_consumers import AGENT, INGEST, RAG
from opensearch_llm.blueprint.schema_fields import (  # noqa: F401 - DURATION_PATTERN is re-exported
    DURATION_PATTERN, EXPECTATION, duration as _duration, field as _field, integer as _int, obj as _object,
    open_map as _open_map,
)

SCHEMA_ID = "https://github.com/opensearch-llm/opensearch-llm/schema/blueprint.schema.json"
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]{0,47}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
STYLES = ("messages", "prompt", "texts")
ACTION_TYPES = ("predict", "execute", "batch_predict", "cancel_batch_predict", "batch_predict_status")
METHODS = ("POST", "GET", "PUT", "DELETE")
PROTOCOLS = ("http", "aws_sigv4")
ACCESS_MODES = ("public", "private", "restricted")
NODE_ROLES = ("cluster_manager", "data", "ingest", "ml", "remote_cluster_client", "search", "warm")
BACKOFF_POLICIES = ("constant", "exponential_equal_jitter", "exponential_full_jitter")


_CLIENT_CONFIG = _object("Client config", "ML Commons HTTP client settings for this connector.", {
    "max_connection": _int("Max connections", "Connection pool size (ML Commons default 30).", 1),
    "connection_timeout": _int("Connection timeout", "Seconds to wait for a TCP connection (30 from 3.7; "
                                                     "older lines default to 30000 seconds)."),
    "read_timeout": _int("Read timeout", "Seconds to wait for the upstream answer; set it explicitly "
                                         "(120-300 for CPU-bound Ollama models)."),
    "retry_backoff_millis": _int("Retry backoff", "Milliseconds between retries (default 200)."),
    "retry_timeout_seconds": _int("Retry timeout", "Give up retrying after this many seconds (default 30)."),
    "max_retry_times": _int("Max retries", "Retries on throttling; 0 = none (default), -1 = unlimited.", -1),
    "retry_backoff_policy": _field("string", "Retry backoff policy", "How the backoff grows.",
                                   enum=list(BACKOFF_POLICIES)),
    "skip_ssl_verification": _field("boolean", "Skip SSL verification", "Do not verify the upstream "
                                                                        "certificate (3.x only)."),
})

_ACTION = _object("Action", "One connector action (ML Commons ConnectorAction).", {
    "action_type": _field("string", "Action type", "What the action is for; a model needs a predict action.",
                          enum=list(ACTION_TYPES)),
    "method": _field("string", "HTTP method", "GET and POST everywhere; PUT and DELETE from 3.5.",
                     enum=list(METHODS)),
    "url": _field("string", "URL", "Absolute http(s) URL; ${parameters.x} is filled from connector.parameters.",
                  minLength=1),
    "headers": _open_map("Headers", "HTTP headers; reference secrets as ${credential.name}, never literally.",
                         {"type": "string"}),
    "request_body": _field("string", "Request body", "JSON template; string parameters go inside quotes "
                                                     "(\"${parameters.prompt}\"), arrays and objects without "
                                                     "(${parameters.messages})."),
    "pre_process_function": _field("string", "Pre-process function", "Built-in name or Painless script."),
    "post_process_function": _field("string", "Post-process function", "Built-in name or Painless script."),
    "name": _field("string", "Action name", "ML Commons 3.x; older lines skip it.", minLength=1),
    "supports_structured_output": _field("boolean", "Supports structured output", "ML Commons 3.7+ (JSON schema "
                                                                                  "enforcement); older lines skip it."),
}, required=("action_type", "method", "url"))

_CONNECTOR = _object("Connector", "The ML Commons connector body; ${parameters.*} and ${credential.*} "
                                  "pass through to ML Commons untouched.", {
    "name": _field("string", "Connector name", "Defaults to the blueprint name.", minLength=1),
    "description": _field("string", "Connector description", "Defaults to the blueprint description."),
    "version": _field(["string", "integer"], "Connector version", "Defaults to \"1\"."),
    "protocol": _field("string", "Protocol", "http (default) or aws_sigv4.", enum=list(PROTOCOLS)),
    "parameters": _open_map("Parameters", "Connector parameters, used for ${parameters.x} in url, headers and "
                                          "request_body; request parameters override them."),
    "credential": _open_map("Credential", "Secrets, encrypted by ML Commons; non-empty (use a dummy value "
                                          "for endpoints without auth). Masked everywhere except the request.",
                            {"type": "string"}, minProperties=1),
    "client_config": _CLIENT_CONFIG,
    "actions": _field("array", "Actions", "Connector actions; at least one predict action.", items=_ACTION),
}, required=("credential", "actions"))

_PREFLIGHT = _object("Preflight", "Before plan, up, smoke and doctor touch the cluster, ask the provider from this "
                                  "machine whether the key is accepted and the model offered. A refusal stops the run "
                                  "(exit 2); an unreachable provider or a 404/405 on the listing only warns.", {
    "enabled": _field("boolean", "Enabled", "false skips the check (like --no-preflight); default true."),
    "url": _field("string", "Listing URL", "GET this URL, e.g. \"${parameters.base_url}/models\" (OpenAI-compatible) "
                                           "or \"${parameters.base_url}/api/tags\" (Ollama); ${parameters.x} and "
                                           "${credential.x} are filled from the connector.", minLength=1),
    "models": _field("string", "Model ids", "Where the offered model ids are in the answer: a path with one [*] "
                                            "for every item of a list, e.g. data[*].id or models[*].name.",
                     minLength=1),
    "model": _field("string", "Model", "The model that must be offered; default \"${parameters.model}\".",
                    minLength=1),
    "headers": _open_map("Headers", "Headers of the GET; default: the predict action's headers (its auth "
                                    "header included).", {"type": "string"}),
    "not_found": {**_field("string", "A 404 on the listing", "no_listing (default): the server has no listing, "
                                                           "warn and go on; wrong_base_url: when the same URL with "
                                                           "/v1 before /models answers, the base URL lacks /v1: "
                                                           "exit 2 naming it (else warn)."),
                  "enum": ["no_listing", "wrong_base_url"]},
}, **{"if": {"properties": {"enabled": {"const": False}}, "required": ["enabled"]},
      "else": {"required": ["url", "models"]}})

SCHEMA: Dict[str, Any] = _object("opensearch-llm blueprint", "A declarative description of one remote LLM "
                                                            "provisioned into OpenSearch ML Commons.", {
    "blueprint": _field("string", "Blueprint name", "Identity used in resource names and the ownership marker: "
                                                    "lowercase letters, digits and '-', at most 48 characters.",
                        pattern=NAME_PATTERN),
    "description": _field("string", "Description", "Human description; the default for every resource."),
    "requires_env": _field("array", "Required environment", "Variables that must be set (non-empty) before "
                                                            "anything runs.",
                           items={"type": "string", "pattern": ENV_NAME_PATTERN}),
    "model_group": _object("Model group", "The model group to create.", {
        "name": _field("string", "Model group name", "Defaults to the blueprint name.", minLength=1),
        "description": _field("string", "Model group description", "Defaults to the blueprint description."),
        "access_mode": _field("string", "Access mode", "Model access control (needs the security plugin and "
                              "plugins.ml_commons.model_access_control_enabled): public, private or restricted.",
                              enum=list(ACCESS_MODES)),
        "backend_roles": _field("array", "Backend roles", "Roles that may use a restricted model group; "
                                "exactly one of backend_roles and add_all_backend_roles with restricted.",
                                items={"type": "string", "minLength": 1}, minItems=1, uniqueItems=True),
        "add_all_backend_roles": _field("boolean", "Add all backend roles", "Give a restricted model group "
                                        "every backend role of the user who registers it (not for admins)."),
    }),
    "connector": _CONNECTOR,
    "model": _object("Model", "The remote model to register and deploy.", {
        "name": _field("string", "Model name", "Defaults to the blueprint name.", minLength=1),
        "description": _field("string", "Model description", "Defaults to the blueprint description."),
        "function_name": _field("string", "Function name", "Always remote for connector-backed models.",
                                enum=["remote"]),
        "interface": _open_map("Interface", "ML Commons model interface (input/output JSON schemas)."),
        "deploy_setting": _open_map("Deploy setting", "ML Commons deploy_setting, e.g. model_ttl_minutes."),
        "rate_limiter": _object("Rate limiter", "Requests per time unit, split across the model's nodes (2.12+); "
                                "changed in place by up.", {
            "limit": _field(["string", "number"], "Limit", "How many requests per unit."),
            "unit": _field("string", "Unit", "The time unit.",
                           enum=["SECONDS", "MINUTES", "HOURS", "DAYS"]),
        }),
        "guardrails": _open_map("Guardrails", "ML Commons guardrails (local regex or model-based); changed in place."),
        "is_enabled": _field("boolean", "Enabled", "false refuses predicts without undeploying; changed in place."),
    }),
    "deploy": _object("Deploy", "Deployment settings: by default the model serves on every node whose roles match "
                                "plugins.ml_commons.task_dispatcher.eligible_node_role.remote_model (data and ml).", {
        "timeout": _duration("Deploy timeout", "How long to wait for DEPLOYED (default 60s)."),
        "nodes": _field("array", "Nodes", "Serve only on these nodes (names or ids): a custom deployment plan, which "
                                          "needs plugins.ml_commons.allow_custom_deployment_plan (turned on and "
                                          "restored like the other settings).",
                        items={"type": "string", "minLength": 1}, minItems=1, uniqueItems=True),
        "roles": _field("array", "Roles", "Serve only on the nodes that have one of these roles now (resolved at plan "
                                          "time to a custom deployment plan, like nodes).",
                        items={"type": "string", "enum": list(NODE_ROLES)}, minItems=1, uniqueItems=True),
    }),
    "smoke": _object("Smoke probe", "The probe sent through _predict and what the answer must satisfy.", {
        "parameters": _open_map("Probe parameters", "The predict parameters of the probe."),
        "expect": _field("array", "Expectations", "Checks on the answer; default: the answer path is not empty.",
                         items=EXPECTATION),
        "timeout": _duration("Smoke timeout", "How long the probe may take (default 60s)."),
    }, required=("parameters",)),
    "predict": _object("Predict", "How predict/chat send input and read the answer.", {
        "style": _field("string", "Style", "messages (chat), prompt (completion) or texts (embeddings).",
                        enum=list(STYLES)),
        "input": _field("string", "Input parameter", "The parameter that carries the input; defaults to the "
                                                     "style name.", minLength=1),
        "answer": _field("string", "Answer path", "Path to the answer in the predict response.", minLength=1),
        "reasoning": _field("string", "Reasoning path", "Path to the reasoning text, for reasoning models.",
                            minLength=1),
        "timeout": _duration("Predict timeout", "How long predict/chat wait for the cluster's answer (default: "
                                                "smoke.timeout). The call is never resent after a timeout."),
    }),
    "preflight": _PREFLIGHT,
    "ollama": _object("Ollama", "Ollama host options.", {
        "pull": _field("boolean", "Pull", "Pull the model on the Ollama host before provisioning."),
        "model": _field("string", "Ollama model", "Model to pull; defaults to connector.parameters.model.",
                        minLength=1),
        "host": _field("string", "Ollama host", "Ollama base URL as seen from here; defaults to "
                                                "connector.parameters.base_url.", minLength=1),
    }),
    "fallback": _field("array", "Fallbacks", "Blueprints (a path next to this file, or a shipped name) whose "
                                             "provisioned models predict and chat ask, in turn, when this one "
                                             "fails without an answer (unreachable, 5xx, 429, throttled); never "
                                             "after a timeout. Each is provisioned by its own up.",
                       items={"type": "string", "minLength": 1}, minItems=1, maxItems=5, uniqueItems=True),
    "rag": RAG,
    "agent": AGENT,
    "ingest": INGEST,
}, required=("blueprint", "connector", "smoke"))
SCHEMA = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **SCHEMA}


def schema_json() -> str:
    """The schema as JSON text (indent 2, sorted keys, trailing newline), as published."""
    return json.dumps(SCHEMA, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    """Write :func:`schema_json` to stdout."""
    sys.stdout.write(schema_json())


if __name__ == "__main__":
    main()
