"""Declarative YAML blueprints: load, interpolate ``${env:...}``, override, validate, and the typed model.

::

    from opensearch_llm.blueprint import load_blueprint
    bp = load_blueprint("connectors/deepseek-chat.yaml", overrides=["deploy.timeout=2m"])
    bp.connector.body      # the ML Commons connector body (credential values are Secrets)

See ``docs/blueprints.md`` for the format.
"""

from __future__ import annotations

from opensearch_llm.blueprint import schema
from opensearch_llm.blueprint.loader import build_blueprint, load_blueprint, load_blueprints, load_fallbacks
from opensearch_llm.blueprint.model import (
    Blueprint,
    ConnectorSpec,
    DeploySpec,
    Expectation,
    ModelGroupSpec,
    ModelSpec,
    OllamaSpec,
    PredictSpec,
    PreflightSpec,
    SmokeSpec,
    parse_duration,
)
from opensearch_llm.blueprint.paths import find_path, get_path, parse_path
from opensearch_llm.blueprint.schema import SCHEMA, schema_json
from opensearch_llm.blueprint.validate import analyse, validate_file

__all__ = [
    "Blueprint",
    "ConnectorSpec",
    "DeploySpec",
    "Expectation",
    "ModelGroupSpec",
    "ModelSpec",
    "OllamaSpec",
    "PredictSpec",
    "PreflightSpec",
    "SCHEMA",
    "SmokeSpec",
    "analyse",
    "build_blueprint",
    "find_path",
    "get_path",
    "load_blueprint",
    "load_fallbacks",
    "load_blueprints",
    "parse_duration",
    "parse_path",
    "schema",
    "schema_json",
    "validate_file",
]
