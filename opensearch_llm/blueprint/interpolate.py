"""``${env:NAME}`` / ``${env:NAME:-default}`` interpolation and the ``requires_env`` check.

Values come from the process environment first, then from the env file (``--env-file``, or ``.env``
in the current directory when present), read with ``dotenv.dotenv_values`` so ``os.environ`` is
never touched.  An empty value counts as unset.  Every other ``${...}`` (ML Commons'
``${parameters.x}`` and ``${credential.x}``) is left untouched.  Strings under
``connector.credential`` become :class:`~opensearch_llm.secrets.Secret` values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Set, Tuple, Union

from dotenv import dotenv_values

from opensearch_llm.errors import Problem
from opensearch_llm.secrets import Secret, register_secret
from opensearch_llm.blueprint.paths import format_path
from opensearch_llm.blueprint.source import KeyPath, Locator

DEFAULT_ENV_FILE = ".env"
CREDENTIAL_PATH: KeyPath = ("connector", "credential")

_ENV_REF = re.compile(r"\$\{env:([^}]*)\}")
_ENV_BODY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.S)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: A name that holds a secret (variables, connector parameters): its value is registered and masked.
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.I)


@dataclass
class EnvLookup:
    """Where ``${env:NAME}`` values come from: the environment mapping, then the env file's values."""

    env: Mapping[str, str]
    file_values: Mapping[str, Optional[str]] = field(default_factory=dict)
    file_label: str = DEFAULT_ENV_FILE

    def get(self, name: str) -> Optional[str]:
        """The non-empty value of ``name``, or None when it is unset or empty everywhere."""
        value = self.env.get(name)
        if value:
            return value
        value = self.file_values.get(name)
        return value or None

    def source(self, name: str) -> str:
        """Where the value of ``name`` comes from: ``the environment`` or the env file's label."""
        return "the environment" if self.env.get(name) else self.file_label

    def missing_message(self, name: str) -> str:
        """The message for an unset variable."""
        return (f"environment variable {name} is not set "
                f"(set it in the environment or in {self.file_label}; see .env.example)")


def make_env_lookup(env: Optional[Mapping[str, str]] = None,
                    env_file: Union[str, Path, None, bool] = None) -> Tuple[EnvLookup, List[Problem]]:
    """Build the lookup from ``env`` (default ``os.environ``) and ``env_file`` (default ``./.env`` if present).

    ``env_file=False`` reads no file at all. An explicitly named env file that does not exist is a Problem.
    """
    source = os.environ if env is None else env
    if env_file is False:
        return EnvLookup(source, {}, "(no env file)"), []
    if env_file is None:
        default = Path(DEFAULT_ENV_FILE)
        values = dotenv_values(default) if default.is_file() else {}
        return EnvLookup(source, values, DEFAULT_ENV_FILE), []
    path = Path(env_file)
    if not path.is_file():
        return EnvLookup(source, {}, str(path)), [Problem(str(path), None, "", "env file not found")]
    return EnvLookup(source, dotenv_values(path), str(path)), []


def check_required_env(data: Dict[str, Any], locator: Locator, lookup: EnvLookup) -> Tuple[List[Problem], Set[str]]:
    """Check ``requires_env``: one Problem per unset (or empty) variable, at its line; also return the names."""
    names = data.get("requires_env")
    problems: List[Problem] = []
    missing: Set[str] = set()
    if not isinstance(names, list):
        return problems, missing
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _ENV_NAME.fullmatch(name) or name in missing:
            continue  # a malformed name is a schema problem
        value = lookup.get(name)
        if value is None:
            missing.add(name)
            problems.append(locator.problem(("requires_env", i), lookup.missing_message(name)))
        elif SECRET_NAME.search(name):
            register_secret(value)
    return problems, missing


@dataclass
class Interpolation:
    """Result of :func:`interpolate`: new data, env problems, paths whose value could not be resolved."""

    data: Dict[str, Any]
    problems: List[Problem] = field(default_factory=list)
    failed_paths: Set[str] = field(default_factory=set)
    secret_values: Set[str] = field(default_factory=set)
    used: List[Tuple[KeyPath, str]] = field(default_factory=list)  # (path, variable) for each value taken


class _Interpolator:
    def __init__(self, locator: Locator, lookup: EnvLookup, reported: Set[str]) -> None:
        self.locator = locator
        self.lookup = lookup
        self.reported = set(reported)
        self.result = Interpolation({})

    def walk(self, value: Any, path: KeyPath) -> Any:
        """A copy of ``value`` with every env reference in its strings replaced."""
        if isinstance(value, dict):
            return {key: self.walk(item, path + (key,)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, path + (i,)) for i, item in enumerate(value)]
        if isinstance(value, str) and "${env:" in value:
            return _ENV_REF.sub(lambda m: self.replace(m, path), value)
        return value

    def replace(self, match: "re.Match[str]", path: KeyPath) -> str:
        """The value for one ``${env:...}`` match (the match itself when it cannot be resolved)."""
        body = _ENV_BODY.fullmatch(match.group(1))
        if not body:
            self.fail(path, f"malformed environment reference {match.group(0)!r} "
                            "(use ${env:NAME} or ${env:NAME:-default})")
            return match.group(0)
        name, default = body.group(1), body.group(2)
        value = self.lookup.get(name)
        if value is not None:
            self.result.used.append((path, name))
            if SECRET_NAME.search(name) or path[:2] == CREDENTIAL_PATH:
                register_secret(value)
                self.result.secret_values.add(value)
            return value
        if default is not None:
            return default
        self.fail(path, self.lookup.missing_message(name), name)
        return match.group(0)

    def fail(self, path: KeyPath, message: str, name: Optional[str] = None) -> None:
        """Record an unresolved reference at ``path`` (one problem per variable name)."""
        self.result.failed_paths.add(format_path(path))
        if name is not None and name in self.reported:
            return
        if name is not None:
            self.reported.add(name)
        self.result.problems.append(self.locator.problem(path, message))


def interpolate(data: Dict[str, Any], locator: Locator, lookup: EnvLookup,
                already_reported: Set[str] = frozenset()) -> Interpolation:
    """Replace every ``${env:...}`` in the strings of ``data`` (a new structure is returned).

    Each unset variable is reported once (names in ``already_reported`` not at all); the paths whose
    strings still hold an unresolved reference are listed in ``failed_paths`` so later checks can
    skip them.  Credential strings are wrapped as Secrets by :func:`wrap_credentials`.
    """
    worker = _Interpolator(locator, lookup, set(already_reported))
    worker.result.data = worker.walk(data, ())
    worker.result.data = wrap_credentials(worker.result.data)
    return worker.result


def _wrap(value: Any) -> Any:
    if isinstance(value, str):
        return Secret(value)
    if isinstance(value, dict):
        return {key: _wrap(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_wrap(item) for item in value]
    return value


def wrap_credentials(data: Dict[str, Any]) -> Dict[str, Any]:
    """Return ``data`` with every string under ``connector.credential`` wrapped in a Secret (idempotent)."""
    connector = data.get("connector")
    if not isinstance(connector, dict) or "credential" not in connector:
        return data
    new_connector = dict(connector, credential=_wrap(connector["credential"]))
    return dict(data, connector=new_connector)
