"""The typed blueprint: frozen dataclasses built from validated data.

:class:`ConnectorSpec` holds the ML Commons connector body exactly as it is POSTed, with
:class:`~opensearch_llm.secrets.Secret` values inside ``credential``; use
:func:`opensearch_llm.secrets.reveal` on it only when sending the request.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from opensearch_llm.secrets import masked as mask_secrets
from opensearch_llm.blueprint.consumers import Consumers
from opensearch_llm.blueprint.expectations import (  # noqa: F401 - part of this module's interface
    DEFAULT_ANSWER, DEFAULT_TIMEOUT, Expectation, parse_duration,
)

@dataclass(frozen=True)
class ModelGroupSpec:
    """The model group to create; ``access`` holds ``access_mode``, ``backend_roles``, ``add_all_backend_roles``."""

    name: str
    description: str = ""
    access: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ConnectorSpec:
    """The connector body exactly as POSTed to ``_plugins/_ml/connectors/_create`` (Secrets in ``credential``)."""

    body: Dict[str, Any]

    @property
    def name(self) -> str:
        """The connector name."""
        return self.body["name"]

    @property
    def parameters(self) -> Dict[str, Any]:
        """The connector parameters."""
        return self.body.get("parameters", {})

    @property
    def actions(self) -> List[Dict[str, Any]]:
        """The connector actions."""
        return self.body.get("actions", [])

    @property
    def predict_action(self) -> Dict[str, Any]:
        """The first action with ``action_type: predict``."""
        return next(a for a in self.actions if a.get("action_type") == "predict")


@dataclass(frozen=True)
class ModelSpec:
    """The remote model; ``extra`` holds ``interface``/``deploy_setting`` and other register fields."""

    name: str
    description: str = ""
    function_name: str = "remote"
    extra: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DeploySpec:
    """Deployment settings; ``nodes`` (names or ids) or ``roles`` ask for a custom deployment plan."""

    timeout: float = DEFAULT_TIMEOUT
    nodes: Tuple[str, ...] = ()
    roles: Tuple[str, ...] = ()


@dataclass(frozen=True)
class SmokeSpec:
    """The smoke probe: predict ``parameters`` and the expectations on the answer."""

    parameters: Dict[str, Any]
    expect: Tuple[Expectation, ...] = ()
    timeout: float = DEFAULT_TIMEOUT

    def check(self, response: Dict[str, Any]) -> List[str]:
        """Every failure reason for ``response`` (empty when all expectations hold)."""
        return [reason for reason in (e.check(response) for e in self.expect) if reason]


@dataclass(frozen=True)
class PredictSpec:
    """How to send input (``style`` and ``input`` parameter) and where to read the answer."""

    style: str = "messages"
    input: str = "messages"
    answer: str = DEFAULT_ANSWER
    reasoning: Optional[str] = None
    timeout: float = DEFAULT_TIMEOUT


@dataclass(frozen=True)
class OllamaSpec:
    """Ollama host options; ``model``/``host`` default to the connector's ``model``/``base_url`` parameters."""

    pull: bool = False
    model: Optional[str] = None
    host: Optional[str] = None


@dataclass(frozen=True)
class PreflightSpec:
    """The upstream check before any cluster request (see :mod:`opensearch_llm.preflight`).

    ``url``, ``model`` and ``headers`` are templates with ``${parameters.x}``/``${credential.x}``;
    ``headers`` None means the predict action's headers; ``models`` is a path with one ``[*]``.
    """

    url: str = ""
    models: str = ""
    model: str = "${parameters.model}"
    headers: Optional[Dict[str, str]] = None
    enabled: bool = True
    not_found: str = "no_listing"  # or wrong_base_url: a 404 on the listing means the base URL is wrong


@dataclass(frozen=True)
class Blueprint:
    """A loaded, validated blueprint."""

    name: str
    description: str
    source: str
    requires_env: Tuple[str, ...]
    model_group: ModelGroupSpec
    connector: ConnectorSpec
    model: ModelSpec
    deploy: DeploySpec
    smoke: SmokeSpec
    predict: PredictSpec
    ollama: Optional[OllamaSpec] = None
    preflight: Optional[PreflightSpec] = None
    consumers: Consumers = field(default_factory=Consumers)
    env_sources: Tuple[Tuple[str, str], ...] = ()  # (variable, where its value came from)
    fallback: Tuple[str, ...] = ()  # blueprints whose models answer when this one cannot (blueprint.fallbacks)

    @property
    def consumer_names(self) -> Tuple[Tuple[str, str], ...]:
        """(step, name) of its RAG, agent and ingest resources (as :class:`BlueprintIdentity` has them)."""
        return self.consumers.names

    def to_dict(self, masked: bool = True) -> Dict[str, Any]:
        """A plain-dict view; with ``masked`` (default) credentials read ``***``, else they stay Secrets."""
        data = {
            "blueprint": self.name, "description": self.description, "source": self.source,
            "requires_env": list(self.requires_env),
            "model_group": {"name": self.model_group.name, "description": self.model_group.description,
                            **self.model_group.access},
            "connector": self.connector.body,
            "model": {"name": self.model.name, "description": self.model.description,
                      "function_name": self.model.function_name, **self.model.extra},
            "deploy": {"timeout": self.deploy.timeout, "nodes": list(self.deploy.nodes),
                       "roles": list(self.deploy.roles)},
            "smoke": {"parameters": self.smoke.parameters, "timeout": self.smoke.timeout,
                      "expect": [_expectation_dict(e) for e in self.smoke.expect]},
            "predict": {"style": self.predict.style, "input": self.predict.input,
                        "answer": self.predict.answer, "reasoning": self.predict.reasoning,
                        "timeout": self.predict.timeout},
            "ollama": None if self.ollama is None else {
                "pull": self.ollama.pull, "model": self.ollama.model, "host": self.ollama.host},
            "preflight": None if self.preflight is None else {
                "enabled": self.preflight.enabled, "url": self.preflight.url, "models": self.preflight.models,
                "model": self.preflight.model, "headers": self.preflight.headers},
        }
        if self.consumers:
            data["consumers"] = asdict(self.consumers)
        if self.fallback:
            data["fallback"] = list(self.fallback)
        data = json.loads(json.dumps(mask_secrets(data))) if masked else _copy(data)
        return data


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def _expectation_dict(expectation: Expectation) -> Dict[str, Any]:
    out: Dict[str, Any] = {"path": expectation.path}
    for key in ("equals", "contains", "regex"):
        if getattr(expectation, key) is not None:
            out[key] = getattr(expectation, key)
    if expectation.not_empty:
        out["not_empty"] = True
    if expectation.length is not None:
        out["length"] = expectation.length
    if expectation.ignore_case:
        out["ignore_case"] = True
    return out
