"""What teardown needs of a blueprint: its name and resource names, never its secrets.

:func:`load_identity` reads a blueprint without requiring its environment: ``down`` works with the
provider key unset. Only the identity fields must resolve (``blueprint``, ``model_group.name``,
``connector.name``, ``model.name``, each defaulting to the blueprint name); anything else may stay
unresolved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from opensearch_llm.blueprint.consumers import consumer_names
from opensearch_llm.blueprint.interpolate import interpolate, make_env_lookup
from opensearch_llm.blueprint.schema import NAME_PATTERN
from opensearch_llm.blueprint.source import apply_overrides, read_source
from opensearch_llm.errors import BlueprintError, Problem

IDENTITY_PATHS = ("blueprint", "model_group.name", "connector.name", "model.name")


@dataclass(frozen=True)
class Named:
    """A resource spec reduced to its name."""

    name: str


@dataclass(frozen=True)
class BlueprintIdentity:
    """A blueprint's name and the names of its resources (same attribute shape as :class:`Blueprint`)."""

    name: str
    source: str
    model_group: Named
    connector: Named
    model: Named
    endpoints: tuple = ()  # the connector's action URLs, where they resolve without secrets
    consumer_names: tuple = ()  # (step, name) of its RAG, agent and ingest resources


def _section_name(data: Dict[str, Any], key: str, default: str) -> Any:
    section = data.get(key)
    value = section.get("name") if isinstance(section, dict) else None
    return default if value in (None, "") else value


def identity_from(data: Dict[str, Any], source: str, locate: Any = None) -> BlueprintIdentity:
    """The identity in already-interpolated ``data``; :class:`BlueprintError` when a name is unusable."""
    name = data.get("blueprint")
    problems: List[Problem] = []
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        problems.append(Problem(source, locate(("blueprint",)) if locate else None, "blueprint",
                                f"must be a name matching {NAME_PATTERN}, got {name!r}"))
        raise BlueprintError(problems)
    names = {key: _section_name(data, key, name) for key in ("model_group", "connector", "model")}
    for key, value in names.items():
        if not isinstance(value, str) or "${env:" in value:
            line = locate((key, "name")) if locate else None
            problems.append(Problem(source, line, f"{key}.name", f"cannot be resolved: {value!r}"))
    if problems:
        raise BlueprintError(problems)
    return BlueprintIdentity(name, source, Named(names["model_group"]), Named(names["connector"]),
                             Named(names["model"]), _endpoints(data), consumer_names(data))


def _endpoints(data: Dict[str, Any]) -> tuple:
    from opensearch_llm.blueprint.endpoints import endpoint_urls

    connector = data.get("connector")
    if not isinstance(connector, dict):
        return ()
    urls = endpoint_urls({"parameters": connector.get("parameters") or {}, "actions": connector.get("actions") or []})
    return tuple(u for u in urls if u and "${" not in u)


def load_identity(path: Union[str, Path], *, env: Optional[Mapping[str, str]] = None,
                  env_file: Union[str, Path, None] = None, overrides: Sequence[str] = ()) -> BlueprintIdentity:
    """The identity of the blueprint at ``path`` (a file or a shipped name); secrets are not needed."""
    source = read_source(path)
    if source.data is None:
        raise BlueprintError(source.problems)
    lookup, lookup_problems = make_env_lookup(env, env_file)
    if lookup_problems:
        raise BlueprintError(lookup_problems)
    interp = interpolate(source.data, source.locator, lookup)
    result = apply_overrides(interp.data, overrides)
    if result.problems:
        raise BlueprintError(result.problems)
    return identity_from(result.data, source.file, source.locator.line)
