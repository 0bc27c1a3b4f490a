"""Taking an ML Commons connector body apart for ``import``: literal secrets become ``${env:VAR}`` references
(credential keys, secret-looking headers and query parameters, AWS keys), everything else stays as written."""

from __future__ import annotations

import re
from typing import Any, Dict, List

from opensearch_llm.blueprint.checks import PARAM_REF, is_secret_header
from opensearch_llm.blueprint.interpolate import SECRET_NAME
from opensearch_llm.blueprint.probe import is_placeholder
from opensearch_llm.secrets import register_secret

AWS_NAMES = {"access_key": "AWS_ACCESS_KEY_ID", "secret_key": "AWS_SECRET_ACCESS_KEY",
             "session_token": "AWS_SESSION_TOKEN", "roleArn": "AWS_ROLE_ARN"}
QUERY_SECRETS = ("key", "api_key", "apikey", "token", "access_token", "sig", "signature", "code")
_NOT_IN_NAMES = re.compile(r"[^A-Za-z0-9 .,!?():@_/'\"-]+")  # ML Commons 3.x refuses other characters
DROPPED = ("backend_roles", "add_all_backend_roles", "access_mode", "tenant_id", "dry_run")
KEPT = ("description", "version", "protocol", "parameters", "credential", "client_config", "actions")
_AUTH_SCHEME = re.compile(r"(?i)^(bearer|basic|token)\s+")
_QUERY_SECRET = re.compile(r"([?&])(%s)=([^&#]*)" % "|".join(QUERY_SECRETS), re.I)
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")
_DOCS_PLACEHOLDER = re.compile(r"<[^<>]+>")


def env_name(key: str, protocol: str) -> str:
    """The variable a credential key becomes."""
    if protocol == "aws_sigv4" and key in AWS_NAMES:
        return AWS_NAMES[key]
    name = re.sub(r"[^A-Za-z0-9]+", "_", key).strip("_").upper() or "CREDENTIAL"
    return f"_{name}" if name[0].isdigit() else name


class Converter:
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
