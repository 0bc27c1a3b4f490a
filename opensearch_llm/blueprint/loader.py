"""Load blueprints: read -> environment check -> interpolate -> ``--set`` -> validate -> typed model.

:func:`load_blueprint` raises :class:`~opensearch_llm.errors.MissingEnvError` when the only problems
are unset environment variables, and :class:`~opensearch_llm.errors.BlueprintError` (carrying every
problem) otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

from opensearch_llm.errors import BlueprintError, MissingEnvError, Problem
from opensearch_llm.blueprint.model import (
    DEFAULT_ANSWER, DEFAULT_TIMEOUT, Blueprint, ConnectorSpec, DeploySpec, Expectation, ModelGroupSpec,
    ModelSpec, OllamaSpec, PredictSpec, PreflightSpec, SmokeSpec, parse_duration,
)
from opensearch_llm.blueprint.consumers import build_consumers
from opensearch_llm.blueprint import fallbacks
from opensearch_llm.blueprint.validate import analyse

PathArg = Union[str, Path]
ACCESS_FIELDS = ("access_mode", "backend_roles", "add_all_backend_roles")
CONNECTOR_KEYS = ("name", "description", "version", "protocol", "parameters", "credential",
                  "client_config", "actions")


def _section(data: Dict[str, Any], key: str) -> Dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _connector(data: Dict[str, Any], name: str, description: str) -> ConnectorSpec:
    raw = _section(data, "connector")
    body: Dict[str, Any] = {
        "name": raw.get("name") or name,
        "description": raw.get("description", description),
        "version": str(raw.get("version", "1")),
        "protocol": raw.get("protocol", "http"),
    }
    for key in CONNECTOR_KEYS[4:]:
        if key in raw:
            body[key] = raw[key]
    if not body["description"]:
        del body["description"]
    return ConnectorSpec(body)


def _predict(data: Dict[str, Any]) -> PredictSpec:
    raw = _section(data, "predict")
    style = raw.get("style", "messages")
    smoke = _section(data, "smoke")
    timeout = raw.get("timeout", smoke.get("timeout"))
    return PredictSpec(style=style, input=raw.get("input", style), answer=raw.get("answer", DEFAULT_ANSWER),
                       reasoning=raw.get("reasoning"),
                       timeout=parse_duration(timeout) if timeout is not None else DEFAULT_TIMEOUT)


def _smoke(data: Dict[str, Any], predict: PredictSpec) -> SmokeSpec:
    raw = _section(data, "smoke")
    if "expect" in raw:
        expect = tuple(Expectation(**item) for item in raw["expect"])
    else:
        expect = (Expectation(path=predict.answer, not_empty=True),)
    timeout = parse_duration(raw["timeout"]) if "timeout" in raw else DEFAULT_TIMEOUT
    return SmokeSpec(parameters=raw.get("parameters", {}), expect=expect, timeout=timeout)


def _ollama(data: Dict[str, Any], connector: ConnectorSpec) -> Optional[OllamaSpec]:
    if "ollama" not in data:
        return None
    raw = _section(data, "ollama")
    params = connector.parameters
    model = raw.get("model") or (params.get("model") if isinstance(params.get("model"), str) else None)
    host = raw.get("host") or (params.get("base_url") if isinstance(params.get("base_url"), str) else None)
    return OllamaSpec(pull=bool(raw.get("pull", False)), model=model, host=host)


def _preflight(data: Dict[str, Any]) -> Optional[PreflightSpec]:
    if "preflight" not in data:
        return None
    raw = _section(data, "preflight")
    headers = raw.get("headers")
    return PreflightSpec(url=raw.get("url", ""), models=raw.get("models", ""),
                         model=raw.get("model", PreflightSpec.model),
                         headers=dict(headers) if isinstance(headers, dict) else None,
                         enabled=raw.get("enabled", True) is not False,
                         not_found=raw.get("not_found", PreflightSpec.not_found))


def build_blueprint(data: Dict[str, Any], source: str, env_sources: Optional[Mapping[str, str]] = None) -> Blueprint:
    """The typed :class:`Blueprint` for validated, interpolated ``data`` read from ``source``."""
    name = data["blueprint"]
    description = data.get("description", "")
    group = _section(data, "model_group")
    model = _section(data, "model")
    connector = _connector(data, name, description)
    predict = _predict(data)
    deploy = _section(data, "deploy")
    extra = {k: v for k, v in model.items() if k not in ("name", "description", "function_name")}
    return Blueprint(
        name=name,
        description=description,
        source=source,
        requires_env=tuple(data.get("requires_env", ())),
        model_group=ModelGroupSpec(group.get("name") or name, group.get("description", description),
                                   {k: v for k, v in group.items() if k in ACCESS_FIELDS}),
        connector=connector,
        model=ModelSpec(model.get("name") or name, model.get("description", description),
                        model.get("function_name", "remote"), extra),
        deploy=DeploySpec(parse_duration(deploy["timeout"]) if "timeout" in deploy else DEFAULT_TIMEOUT,
                          tuple(deploy.get("nodes", ())), tuple(deploy.get("roles", ()))),
        smoke=_smoke(data, predict),
        predict=predict,
        ollama=_ollama(data, connector),
        preflight=_preflight(data),
        consumers=build_consumers(data),
        env_sources=tuple(sorted((env_sources or {}).items())),
        fallback=tuple(data.get("fallback") or ()),
    )


def _raise_for(problems: List[Problem], only_env: bool) -> None:
    raise (MissingEnvError if only_env else BlueprintError)(problems)


def load_blueprint(path: PathArg, *, env: Optional[Mapping[str, str]] = None,
                   env_file: Optional[PathArg] = None, overrides: Sequence[str] = (),
                   trust_env_file: bool = False) -> Blueprint:
    """Load, interpolate and validate the blueprint at ``path``.

    ``env`` defaults to ``os.environ``; ``env_file`` to ``./.env`` when present; ``overrides`` are
    ``PATH=VALUE`` strings as given to ``--set``; ``trust_env_file`` lets the env file set where a
    credential from elsewhere is sent.  Raise :class:`MissingEnvError` if every problem is
    an unset environment variable, else :class:`BlueprintError` with every problem.
    """
    return load_blueprints([path], env=env, env_file=env_file, overrides=overrides, trust_env_file=trust_env_file)[0]


def load_blueprints(paths: Iterable[PathArg], *, env: Optional[Mapping[str, str]] = None,
                    env_file: Optional[PathArg] = None, overrides: Sequence[str] = (),
                    trust_env_file: bool = False) -> List[Blueprint]:
    """Load several blueprints; problems of all files are collected into one error."""
    blueprints: List[Blueprint] = []
    problems: List[Problem] = []
    only_env = True
    for path in paths:
        analysis = analyse(path, env=env, env_file=env_file, overrides=overrides, trust_env_file=trust_env_file)
        if analysis.problems:
            problems += analysis.problems
            only_env = only_env and analysis.only_env_problems
        elif analysis.data is not None:
            blueprints.append(build_blueprint(analysis.data, analysis.file, analysis.env_sources))
    if problems:
        _raise_for(list(dict.fromkeys(problems)), only_env)
    return blueprints


def load_fallbacks(blueprint: Blueprint, *, env: Optional[Mapping[str, str]] = None,
                   env_file: Optional[PathArg] = None, trust_env_file: bool = False) -> List[Blueprint]:
    """The fallback blueprints of ``blueprint`` (``fallback:``), loaded and validated with the same environment."""
    paths = [fallbacks.resolve(ref, blueprint.source) or ref for ref in blueprint.fallback]
    return load_blueprints(paths, env=env, env_file=env_file, trust_env_file=trust_env_file) if paths else []
