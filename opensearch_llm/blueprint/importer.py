"""ML Commons connector JSON -> blueprint YAML (``opensearch-llm import``).

:func:`import_connector` reads the body of ``POST _plugins/_ml/connectors/_create`` as the ML Commons docs
publish it (a leading ``POST ...`` line and ``//`` comments are accepted) and returns the blueprint text,
the variables to set and every problem ``validate`` still finds with those variables set.

* Every credential becomes ``${env:VAR}``: the AWS keys of an ``aws_sigv4`` connector (``access_key``,
  ``secret_key``, ``session_token``, ``roleArn``) become ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
  ``AWS_SESSION_TOKEN``, ``AWS_ROLE_ARN``; any other key its upper-case form (``openAI_key`` -> ``OPENAI_KEY``).
  A value found in the input is never written out, nor shown: a literal secret in a secret-looking header
  (:func:`~opensearch_llm.blueprint.checks.is_secret_header`), in a connector parameter with a secret-looking
  name (:data:`~opensearch_llm.blueprint.interpolate.SECRET_NAME`) or referenced from such a header, or in a
  URL query parameter (:data:`QUERY_SECRETS`) becomes a credential too, and a credential's value anywhere else
  is replaced by ``${credential.<key>}``.
* Model group, model, ``predict`` and a smoke probe are generated (:mod:`opensearch_llm.blueprint.probe`).
* ``backend_roles``, ``add_all_backend_roles``, ``access_mode``, ``tenant_id`` and ``dry_run`` are dropped with a
  note (ML Commons refuses the access-control fields where access control is off).
"""

from __future__ import annotations

import json
import re
import tempfile
import textwrap
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

from opensearch_llm.errors import InvalidInputError, Problem
from opensearch_llm.blueprint.import_convert import Converter, env_name  # noqa: F401 - env_name: interface
from opensearch_llm.blueprint.probe import Probe, derive, is_placeholder
from opensearch_llm.blueprint.validate import analyse

#: URL query parameters that carry a key (``?key=...`` of Google APIs, ``sig`` of Azure SAS URLs, ...).
CHECK_VALUE = "set-by-opensearch-llm-import"


@dataclass
class Imported:
    """The result of :func:`import_connector`; ``problems`` is empty when the blueprint validates."""

    name: str
    text: str
    variables: Dict[str, str]                       # VAR -> what it holds
    literals: List[str] = field(default_factory=list)  # VARs whose value the input held (not written)
    notes: List[str] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)


def strip_comments(text: str) -> str:
    """``text`` without ``//`` line comments outside JSON strings."""
    out: List[str] = []
    in_string = escaped = False
    i = 0
    while i < len(text):
        char = text[i]
        if in_string:
            escaped, in_string = (False, True) if escaped else (char == "\\", char != '"')
        elif char == '"':
            in_string = True
        elif text.startswith("//", i):
            i = text.find("\n", i)
            if i < 0:
                break
            continue
        out.append(char)
        i += 1
    return "".join(out)


def parse_body(text: str) -> Dict[str, Any]:
    """The connector body in ``text``; raise :class:`InvalidInputError` when it is not a JSON object."""
    body = text.lstrip()
    if re.match(r"(?i)(POST|PUT)\s+\S*_plugins/_ml/connectors", body):
        body = body.split("\n", 1)[1] if "\n" in body else ""
    try:
        data = json.loads(strip_comments(body))
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise InvalidInputError(f"not a JSON connector body: {getattr(exc, 'msg', exc)}{where}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("not a connector body: expected a JSON object")
    return data


def blueprint_name(body: Dict[str, Any], origin: str) -> str:
    """A blueprint name from the connector name, else the input file's name, else ``imported``."""
    for candidate in (body.get("name"), Path(origin).stem if origin != "-" else None, "imported"):
        if isinstance(candidate, str) and not is_placeholder(candidate):
            slug = re.sub(r"[^a-z0-9]+", "-", candidate.lower()).strip("-")[:48].strip("-")
            if slug:
                return slug
    return "imported"


def _require_predict(actions: Any) -> None:
    items = [a for a in actions if isinstance(a, dict)] if isinstance(actions, list) else []
    if any(str(a.get("action_type", "")).lower() == "predict" for a in items):
        return
    kinds = ", ".join(str(a.get("action_type")) for a in items) or "none"
    raise InvalidInputError(f"the connector has no predict action, so no model can use it (actions: {kinds})",
                            hint="a remote model needs an action with action_type predict")


def _sections(name: str, connector: Dict[str, Any], probe: Probe, variables: List[str]) -> Dict[str, Any]:
    description = connector["description"]
    data: Dict[str, Any] = {"blueprint": name, "description": description}
    if variables:
        data["requires_env"] = variables
    data["model_group"] = {"name": name, "description": description}
    data["connector"] = connector
    data["model"] = {"name": name, "function_name": "remote"}
    if probe.style:
        data["predict"] = {"style": probe.style, "input": probe.input}
        if probe.answer:
            data["predict"]["answer"] = probe.answer
    data["smoke"] = {"parameters": probe.parameters, "expect": probe.expect}
    return data


def _header_comment(origin: str, conv: Converter, probe: Probe) -> str:
    from opensearch_llm.catalog import with_schema_comment

    lines = ["#", f"# Imported by `opensearch-llm import` from {origin}.", "#",
             "# Variables it reads (environment first, then --env-file / ./.env):"]
    lines += [f"#   {var:<24} required; {what}" for var, what in conv.variables.items()]
    used = f" (${{parameters.{probe.input}}})" if probe.input else ""
    lines += ["#", f"# Smoke probe: {probe.style or 'none'}{used}"]
    for note in probe.notes + conv.notes:
        lines += textwrap.wrap(note, 106, initial_indent="# NOTE: ", subsequent_indent="#   ")
    return with_schema_comment("\n".join(lines) + "\n")


def _check(text: str, variables: List[str], label: str) -> List[Problem]:
    """Every problem ``validate`` finds in ``text`` with ``variables`` set (files named ``label``)."""
    with tempfile.TemporaryDirectory(prefix="opensearch-llm-import-") as folder:
        path = Path(folder) / "imported.yaml"
        path.write_text(text, encoding="utf-8")
        analysis = analyse(path, env={var: CHECK_VALUE for var in variables}, env_file=False)
    return [replace(p, file=label) if p.file == str(path) else p for p in analysis.problems]


def import_connector(text: str, origin: str = "-", *, name: Optional[str] = None,
                     label: str = "<stdout>") -> Imported:
    """Convert connector JSON ``text`` (read from ``origin``, ``-`` for stdin) into a blueprint.

    ``name`` overrides the blueprint name; ``label`` names the output in problems.  Raise
    :class:`InvalidInputError` when the input is no connector body or has no predict action.
    """
    body = parse_body(text)
    _require_predict(body.get("actions"))
    bp_name = blueprint_name({"name": name} if name else body, origin)
    conv = Converter(body)
    connector = conv.connector(bp_name)
    predict = next(a for a in connector["actions"] if isinstance(a, dict) and a.get("action_type") == "predict")
    params = connector.get("parameters")
    probe = derive(predict, params if isinstance(params, dict) else {})
    variables = list(conv.variables)
    data = _sections(bp_name, connector, probe, variables)
    rendered = _header_comment("stdin" if origin == "-" else origin, conv, probe) + _dump(data)
    problems = _check(rendered, variables, label)
    return Imported(bp_name, rendered, dict(conv.variables), conv.literals, probe.notes + conv.notes, problems)


def _dump(data: Dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110, default_flow_style=False)


__all__ = ["Imported", "blueprint_name", "env_name", "import_connector", "parse_body", "strip_comments"]
