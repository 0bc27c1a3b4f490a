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
from opensearch_llm.secrets import register_secret
from opensearch_llm.blueprint.checks import PARAM_REF, is_secret_header
from opensearch_llm.blueprint.interpolate import SECRET_NAME
from opensearch_llm.blueprint.probe import Probe, derive, is_placeholder
from opensearch_llm.blueprint.validate import analyse

AWS_NAMES = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY",
             "session_token": "AWS_SESSION_TOKEN", "roleArn": "AWS_ROLE_ARN"}
DROPPED = ("backend_roles", "add_all_backend_roles", "access_mode", "tenant_id", "dry_run")
KEPT = ("description", "version", "protocol", "parameters", "credential", "client_config", "actions")
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9 .,!?():@_/'\"-]+")  # ML Commons 3.x refuses other characters
_DOCS_PLACEHOLDER = re.compile(r"<[^<>]+>")
_AUTH_SCHEME = re.compile(r"(?i)^(bearer|basic|token)\s+")
#: URL query parameters that carry a key (``?key=...`` of Google APIs, ``sig`` of Azure SAS URLs, ...).
QUERY_SECRETS = ("key", "api_key", "apikey", "token", "access_token", "sig", "signature", "code")
_QUERY_SECRET = re.compile(r"([?&])(%s)=([^&#]*)" % "|".join(QUERY_SECRETS), re.I)
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")
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


def env_name(key: str, protocol: str) -> str:
    """The variable a credential key becomes."""
    if protocol == "aws_sigv4" and key in AWS_NAMES:
        return AWS_NAMES[key]
    name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper() or "CREDENTIAL"
    return f"_{name}" if name[0].isdigit() else name


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


class _Converter:
    """One conversion: the connector body taken apart into blueprint sections."""

    def __init__(self, body: Dict[str, Any]) -> None:
        self.body = body
        self.protocol = str(body.get("protocol", "http"))
        self.variables: Dict[str, str] = {}   # VAR -> what it holds
        self.literals: List[str] = []
        self.notes: List[str] = []
        self.secrets: Dict[str, str] = {}     # literal value -> credential key
        self.credential: Dict[str, str] = {}  # credential key -> ${env:VAR}

    def connector(self, name: str) -> Dict[str, Any]:
        """The connector section: kept fields, credentials as variables, actions normalised."""
        out: Dict[str, Any] = {"name": name}
        out.update({k: self.body[k] for k in KEPT if k in self.body})
        for key in DROPPED:
            if key in self.body:
                self.notes.append(f"dropped {key}: access control, tenancy and dry runs are not part of a blueprint")
        if "version" not in out or is_placeholder(out["version"]):
            out["version"] = "1"
        out["description"] = _clean_text(out.get("description"), f"{name} (imported ML Commons connector)")
        if isinstance(out.get("credential"), dict):
            for key, value in out["credential"].items():
                self._variable(str(key), value)
        if isinstance(out.get("parameters"), dict):
            self._secret_parameters(out)
        if isinstance(out.get("actions"), list):
            out["actions"] = [self._action(a) for a in out["actions"]]
        params = out.get("parameters")
        for key, value in (params.items() if isinstance(params, dict) else ()):
            if isinstance(value, str) and _DOCS_PLACEHOLDER.search(value):
                self.notes.append(f"connector.parameters.{key} still holds a docs placeholder ({value!r}): fill it in")
        if not self.credential:
            self.notes.append("the body has no credential; ML Commons requires one, so a dummy api_key is used")
            self.credential["api_key"] = "no-key-needed"
        out["credential"] = self.credential
        self._scrub(out)
        return {k: out[k] for k in ("name",) + KEPT if k in out}

    def _variable(self, key: str, value: Any) -> None:
        var = env_name(key, self.protocol)
        while var in self.variables:
            var += "_2"
        self.variables[var] = f"the connector credential {key}"
        self.credential[key] = f"${{env:{var}}}"
        if isinstance(value, str) and value and not is_placeholder(value) and not value.startswith("${"):
            register_secret(value)
            self.secrets[value] = key
            self.literals.append(var)

    def _free_key(self, *candidates: str) -> str:
        """The first candidate that names no credential yet, else the last one with ``_2``, ``_3``, ..."""
        for key in candidates:
            if key not in self.credential:
                return key
        n = 2
        while f"{candidates[-1]}_{n}" in self.credential:
            n += 1
        return f"{candidates[-1]}_{n}"

    def _secret_parameters(self, connector: Dict[str, Any]) -> None:
        """Connector parameters that hold a secret become credentials; their references follow.

        A parameter is a secret when its name looks like one (``api_key``, ``access_token``, ...) and it holds
        a literal (not a number, a docs placeholder or a reference), or when a secret-looking header or URL
        query parameter reads it.
        """
        params: Dict[str, Any] = connector["parameters"]
        read_by_secrets = set(PARAM_REF.findall(" ".join(_secret_places(connector.get("actions")))))
        for name, value in list(params.items()):
            if not isinstance(value, str) or not value or value.startswith("${"):
                continue
            named = SECRET_NAME.search(name) and not is_placeholder(value) and not _NUMBER.fullmatch(value)
            if not named and name not in read_by_secrets:
                continue
            key = self._free_key(re.sub(r"\W+", "_", name).strip("_") or "parameter")
            self._variable(key, value)
            del params[name]
            connector["actions"] = _replace(connector.get("actions"), f"${{parameters.{name}}}",
                                            f"${{credential.{key}}}")
            self.notes.append(f"connector.parameters.{name} held a secret: it is now credential {key}, "
                              f"read as ${{credential.{key}}}")
        if not params:
            del connector["parameters"]

    def _action(self, raw: Any) -> Any:
        if not isinstance(raw, dict):
            return raw
        action = dict(raw)
        for key, convert in (("action_type", str.lower), ("method", str.upper)):
            if isinstance(action.get(key), str):
                action[key] = convert(action[key])
        if isinstance(action.get("headers"), dict):
            action["headers"] = {str(k): self._header(str(k), v) for k, v in action["headers"].items()}
        if isinstance(action.get("url"), str):
            action["url"] = _QUERY_SECRET.sub(self._query, action["url"])
        return action

    def _known(self, value: str) -> bool:
        """True for a credential reference, or a known credential value (that :meth:`_scrub` replaces)."""
        return "${credential." in value or any(secret in value for secret in self.secrets)

    def _header(self, name: str, value: Any) -> Any:
        """A literal secret in a secret-looking header becomes a credential of its own."""
        if not isinstance(value, str) or not value or not is_secret_header(name) or self._known(value):
            return value
        scheme = _AUTH_SCHEME.match(value)
        prefix, secret = (scheme.group(0), value[scheme.end():]) if scheme else ("", value)
        slug = re.sub(r"\W+", "_", name.lower()).strip("_")
        key = self._free_key("api_key", slug if slug.endswith("key") else f"{slug}_key")
        self._variable(key, secret)
        self.notes.append(f"header {name} held a literal secret: it now reads ${{credential.{key}}}")
        return f"{prefix}${{credential.{key}}}"

    def _query(self, match: "re.Match[str]") -> str:
        """A literal secret in a URL query parameter (``?key=...``) becomes a credential of its own."""
        sep, name, value = match.groups()
        if not value or self._known(value):
            return match.group(0)
        key = self._free_key("api_key", f"url_{name.lower()}")
        self._variable(key, value)
        self.notes.append(f"the URL query parameter {name} held a literal secret: it now reads "
                          f"${{credential.{key}}}; ML Commons fills only ${{parameters.x}} in an action URL, so "
                          "send the key in a header instead where the provider accepts one")
        return f"{sep}{name}=${{credential.{key}}}"

    def _scrub(self, connector: Dict[str, Any]) -> None:
        for value, key in sorted(self.secrets.items(), key=lambda item: -len(item[0])):
            for section in ("parameters", "actions"):
                replaced = _replace(connector.get(section), value, f"${{credential.{key}}}")
                if replaced != connector.get(section):
                    connector[section] = replaced
                    self.notes.append(f"the value of credential {key} also appeared in connector.{section}; "
                                      f"it now reads ${{credential.{key}}} there")


def _secret_places(actions: Any) -> List[str]:
    """The secret-looking header values and URL query values of ``actions``."""
    places: List[str] = []
    for action in actions if isinstance(actions, list) else ():
        if not isinstance(action, dict):
            continue
        headers = action.get("headers") if isinstance(action.get("headers"), dict) else {}
        places += [v for k, v in headers.items() if isinstance(v, str) and is_secret_header(str(k))]
        if isinstance(action.get("url"), str):
            places += [m.group(3) for m in _QUERY_SECRET.finditer(action["url"])]
    return places


def _replace(obj: Any, value: str, reference: str) -> Any:
    if isinstance(obj, str):
        return obj.replace(value, reference)
    if isinstance(obj, dict):
        return {k: _replace(v, value, reference) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_replace(v, value, reference) for v in obj]
    return obj


def _clean_text(value: Any, default: str) -> str:
    if not isinstance(value, str) or is_placeholder(value):
        return default
    return re.sub(r"\s+", " ", _NOT_IN_NAMES.sub(" ", value)).strip() or default


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


def _header_comment(origin: str, conv: _Converter, probe: Probe) -> str:
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
    conv = _Converter(body)
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
