"""Blueprint validation: every problem at once, each with file, line and key path.

:func:`analyse` runs the whole pipeline (read -> ``requires_env`` -> interpolate -> ``--set`` ->
schema -> semantic checks) and never raises; :func:`validate_file` returns its problems.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Union

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

from opensearch_llm.errors import Problem
from opensearch_llm.secrets import mask_text, masked
from opensearch_llm.blueprint.checks import semantic_problems
from opensearch_llm.blueprint.env_sources import mixed_sources
from opensearch_llm.blueprint.paths import format_path
from opensearch_llm.blueprint.interpolate import check_required_env, interpolate, make_env_lookup, wrap_credentials
from opensearch_llm.blueprint.schema import DURATION_PATTERN, NAME_PATTERN, SCHEMA, schema_json
from opensearch_llm.blueprint.source import OVERRIDE_FILE, Locator, apply_overrides, read_source

_VALIDATOR: Any = None


def _validator() -> Any:
    global _VALIDATOR
    if _VALIDATOR is None:
        from jsonschema import Draft202012Validator

        _VALIDATOR = Draft202012Validator(SCHEMA)
    return _VALIDATOR


def _clean_marker(data: Dict[str, Any]) -> Optional[Path]:
    """Where a clean structural result for exactly this (masked) data is remembered.

    Importing and running jsonschema costs more than the rest of loading; a blueprint that
    passed once is not checked again until its content, the overrides or the schema change.
    The key is a digest of the masked data: no secret goes into it.
    """
    from opensearch_llm.paths import cache_dir

    digest = hashlib.sha256((schema_json() + json.dumps(masked(data), sort_keys=True, default=str)).encode())
    return cache_dir() / "validated" / digest.hexdigest()
_JSON_TYPES = [(bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
               (list, "array"), (dict, "object"), (type(None), "null")]
CREDENTIAL_HINT = ("ML Commons requires a non-empty credential; use a dummy value such as "
                   "{api_key: unused} for endpoints without auth")


def json_type(value: Any) -> str:
    """The JSON type name of a Python value (``integer`` for 3, ``boolean`` for True)."""
    for kind, name in _JSON_TYPES:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _unknown_keys(error: ValidationError, loc: Locator) -> List[Problem]:
    allowed = sorted(error.schema.get("properties", {}))
    problems = []
    for key in error.instance:
        if key in allowed:
            continue
        close = difflib.get_close_matches(str(key), allowed, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed: {', '.join(allowed)}"
        problems.append(loc.problem(tuple(error.absolute_path) + (key,), f"unknown key '{key}' ({hint})"))
    return problems


def _missing_keys(error: ValidationError, loc: Locator) -> List[Problem]:
    path = tuple(error.absolute_path)
    problems = []
    for key in error.validator_value:
        if key in error.instance:
            continue
        message = f"missing required key '{key}'"
        if path == ("connector",) and key == "credential":
            message += f" ({CREDENTIAL_HINT})"
        problems.append(loc.problem(path, message))
    return problems


def _pattern_message(error: ValidationError) -> str:
    value = error.instance
    if error.validator_value == DURATION_PATTERN:
        return f"bad duration {value!r} (use e.g. 30s, 2m, 500ms)"
    if error.validator_value == NAME_PATTERN:
        return (f"bad blueprint name {value!r} (lowercase letters, digits and '-', "
                "starting with a letter or digit, at most 48 characters)")
    return f"{value!r} does not match {error.validator_value}"


def _message(error: ValidationError) -> str:
    keyword, expected, value = error.validator, error.validator_value, error.instance
    path = tuple(error.absolute_path)
    if keyword == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        return f"expected {' or '.join(kinds)}, got {json_type(value)}"
    if keyword == "enum":
        if path == ("model", "function_name"):
            return f"function_name must be 'remote' for a connector-backed model, got {value!r}"
        return f"expected one of {', '.join(map(str, expected))}, got {value!r}"
    if keyword == "pattern":
        return _pattern_message(error)
    if keyword == "minProperties" and path == ("connector", "credential"):
        return f"empty credential: {CREDENTIAL_HINT}"
    if keyword in ("minLength", "minProperties", "minItems"):
        return "must not be empty"
    if keyword == "exclusiveMinimum":
        return f"must be greater than {expected}, got {value!r}"
    if keyword == "minimum":
        return f"must be at least {expected}, got {value!r}"
    return error.message


def schema_problems(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Structural problems from the JSON Schema, with human messages."""
    marker = _clean_marker(data)
    if marker is not None and marker.exists():
        return []
    problems: List[Problem] = []
    for error in _validator().iter_errors(masked(data)):
        if error.validator == "additionalProperties" and error.validator_value is False:
            problems += _unknown_keys(error, loc)
        elif error.validator == "required":
            problems += _missing_keys(error, loc)
        else:
            problems.append(loc.problem(tuple(error.absolute_path), _message(error)))
    if not problems and marker is not None:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass
    return problems


def _covered(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in prefixes)


def validate_data(data: Dict[str, Any], loc: Locator, *, skip_paths: Iterable[str] = ()) -> List[Problem]:
    """Schema and semantic problems of already-interpolated ``data``.

    A semantic problem at a path the schema already flagged is dropped (one problem per cause), and
    so is any problem at a path in ``skip_paths`` (values whose environment variable is missing).
    """
    skip = set(skip_paths)
    structural = [p for p in schema_problems(data, loc) if p.path not in skip]
    flagged = {p.path for p in structural}
    semantic = [p for p in semantic_problems(data, loc) if p.path not in flagged and p.path not in skip]
    return structural + semantic


@dataclass
class Analysis:
    """Everything known about one blueprint file after validation."""

    file: str
    data: Optional[Dict[str, Any]]
    problems: List[Problem] = field(default_factory=list)
    env_problems: List[Problem] = field(default_factory=list)
    env_sources: Dict[str, str] = field(default_factory=dict)  # variable → where its value came from

    @property
    def only_env_problems(self) -> bool:
        """True when there are problems and every one is a missing environment variable."""
        return bool(self.problems) and all(p in self.env_problems for p in self.problems)


def _sort_key(problem: Problem) -> tuple:
    return (problem.file != OVERRIDE_FILE, problem.line or 0, problem.path, problem.message)


def _relocate(problems: List[Problem], overridden: Sequence[str]) -> List[Problem]:
    return [replace(p, file=OVERRIDE_FILE, line=None) if p.file != OVERRIDE_FILE and _covered(p.path, overridden)
            else p for p in problems]


def analyse(path: Union[str, Path], *, env: Optional[Mapping[str, str]] = None,
            env_file: Union[str, Path, None] = None, overrides: Sequence[str] = (),
            trust_env_file: bool = False) -> Analysis:
    """Read, check the environment, interpolate, apply overrides and validate ``path``; never raises.

    Unless ``trust_env_file``, a credential and the endpoint it goes to must come from one source
    (:mod:`opensearch_llm.blueprint.env_sources`).
    """
    source = read_source(path)
    if source.data is None:
        return Analysis(source.file, None, list(source.problems))
    loc = source.locator
    lookup, lookup_problems = make_env_lookup(env, env_file)
    env_problems, missing = check_required_env(source.data, loc, lookup)
    interp = interpolate(source.data, loc, lookup, missing)
    env_problems += interp.problems
    result = apply_overrides(interp.data, overrides)
    used = [(p, name) for p, name in interp.used if not _covered(format_path(p), result.paths)]
    mixed = [] if trust_env_file else mixed_sources(source.data, used, lookup, loc)
    data = wrap_credentials(result.data)
    checked = _relocate(validate_data(data, loc, skip_paths=interp.failed_paths), result.paths)
    secrets = interp.secret_values
    everything = source.problems + lookup_problems + result.problems + env_problems + mixed + checked
    problems = sorted({_masked(p, secrets) for p in everything}, key=_sort_key)
    env_masked = {_masked(p, secrets) for p in env_problems}
    return Analysis(source.file, data, problems, [p for p in problems if p in env_masked],
                    {name: lookup.source(name) for _, name in used})


def _masked(problem: Problem, secrets: Set[str]) -> Problem:
    return replace(problem, message=mask_text(problem.message, secrets))


def validate_file(path: Union[str, Path], env: Optional[Mapping[str, str]] = None,
                  env_file: Union[str, Path, None] = None, overrides: Sequence[str] = ()) -> List[Problem]:
    """Every problem of the blueprint at ``path`` (empty when it is valid); never raises."""
    return analyse(path, env=env, env_file=env_file, overrides=overrides).problems


__all__ = ["Analysis", "analyse", "json_type", "schema_problems", "validate_data", "validate_file"]
