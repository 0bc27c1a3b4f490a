"""Semantic blueprint checks that JSON Schema cannot express.

Each check takes the (interpolated, possibly malformed) data and a
:class:`~opensearch_llm.blueprint.source.Locator`, and returns Problems; every check is defensive
about types because structural errors are reported separately by the schema pass.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Dict, List, Optional, Set
from urllib.parse import urlparse

from opensearch_llm.errors import Problem
from opensearch_llm.blueprint.access import check_access
from opensearch_llm.blueprint.checks_consumers import check_consumers
from opensearch_llm.blueprint.checks_expect import check_expectation, path_problems
from opensearch_llm.blueprint.checks_upstream import CRED_REF, check_reasoning_effort, credential_destination
from opensearch_llm.blueprint.model import parse_duration
from opensearch_llm.blueprint.paths import split_wildcard
from opensearch_llm.blueprint.schema import ACTION_TYPES
from opensearch_llm.blueprint.fallbacks import check_fallbacks
from opensearch_llm.blueprint.source import KeyPath, Locator

PARAM_REF = re.compile(r"\$\{parameters\.([^}]+)\}")
#: A header whose name contains one of these (case-insensitive) carries a secret: Authorization, api-key,
#: x-goog-api-key, Ocp-Apim-Subscription-Key, X-Auth-Token, x-amz-security-token, x-signature, ...
SECRET_HEADER = re.compile(r"key|secret|token|auth|signature", re.I)
UNKNOWN_SAMPLE = "1"  # valid JSON both inside quotes and as a bare value
INPUT_SAMPLES = {"messages": [{"role": "user", "content": "ping"}], "prompt": "ping", "texts": ["ping"]}


def _dict(value: Any) -> Dict[str, Any]:
    return value if isinstance(value, dict) else {}


class _Context:
    """What the action checks need to know about the rest of the blueprint."""

    def __init__(self, data: Dict[str, Any], loc: Locator) -> None:
        connector = _dict(data.get("connector"))
        predict = _dict(data.get("predict"))
        style = predict.get("style") if predict.get("style") in INPUT_SAMPLES else "messages"
        self.loc = loc
        self.params = _dict(connector.get("parameters"))
        self.smoke_params = _dict(_dict(data.get("smoke")).get("parameters"))
        credential = connector.get("credential")
        self.credentials: Optional[Set[str]] = set(credential) if isinstance(credential, dict) and credential else None
        self.input_name = predict.get("input") if isinstance(predict.get("input"), str) else style
        self.input_sample = INPUT_SAMPLES[style]

    def credential_problems(self, path: KeyPath, text: str) -> List[Problem]:
        """Problems for ``${credential.x}`` in ``text`` naming no credential (none when credential is invalid)."""
        if self.credentials is None:
            return []
        known = ", ".join(sorted(self.credentials))
        return [self.loc.problem(path, f"placeholder ${{credential.{name}}} names no credential (defined: {known})")
                for name in dict.fromkeys(CRED_REF.findall(text)) if name not in self.credentials]

    def undefined_params(self, text: str) -> List[str]:
        """Names of ``${parameters.x}`` in ``text`` that are not connector parameters."""
        return [name for name in dict.fromkeys(PARAM_REF.findall(text)) if name not in self.params]


def _param_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def check_url(ctx: _Context, path: KeyPath, url: str) -> List[Problem]:
    """``url`` must be an absolute http(s) URL with a host once connector parameters are filled in."""
    problems = ctx.credential_problems(path, url)
    undefined = ctx.undefined_params(url)
    problems += [ctx.loc.problem(path, f"placeholder ${{parameters.{name}}} is not defined in connector.parameters")
                 for name in undefined]
    if undefined:
        return problems
    filled = CRED_REF.sub("x", PARAM_REF.sub(lambda m: _param_text(ctx.params[m.group(1)]), url))
    if "${env:" in filled:
        return problems
    problem = url_problem(filled)
    if problem:
        problems.append(ctx.loc.problem(path, problem))
    return problems


def url_problem(url: str) -> Optional[str]:
    """Why ``url`` is not an absolute http(s) URL with a host, or None."""
    parsed = urlparse(url.strip())
    if not parsed.scheme or not parsed.netloc and "://" not in url:
        return f"url is not an absolute http(s) URL: {url!r}"
    if parsed.scheme not in ("http", "https"):
        return f"url scheme '{parsed.scheme}' is not allowed (use http or https): {url!r}"
    try:
        parsed.port
    except ValueError:
        return f"url has a bad port: {url!r}"
    if not parsed.hostname:
        return f"url has no host: {url!r}"
    return None


def is_secret_header(name: str) -> bool:
    """True when a header named ``name`` carries a secret (its name contains key, secret, token, auth or signature)."""
    return bool(SECRET_HEADER.search(name))


def check_headers(ctx: _Context, path: KeyPath, headers: Dict[str, Any]) -> List[Problem]:
    """Header placeholders must resolve, and secret-looking headers must use ``${credential.*}``."""
    problems: List[Problem] = []
    for name, value in headers.items():
        if not isinstance(value, str):
            continue
        where = path + (name,)
        problems += ctx.credential_problems(where, value)
        problems += [ctx.loc.problem(where, f"placeholder ${{parameters.{p}}} is not defined in connector.parameters")
                     for p in ctx.undefined_params(value)]
        if is_secret_header(str(name)) and "${credential." not in value:
            problems.append(ctx.loc.problem(where, f"literal secret in header '{name}': use ${{credential.<name>}}"))
    return problems


def _sample(ctx: _Context, name: str) -> Any:
    if name in ctx.smoke_params:
        return ctx.smoke_params[name]
    if name in ctx.params:
        return ctx.params[name]
    return ctx.input_sample


def check_body(ctx: _Context, path: KeyPath, body: str) -> List[Problem]:
    """``request_body`` must be valid JSON once placeholders are filled with sample values."""
    problems = ctx.credential_problems(path, body)
    known = set(ctx.params) | set(ctx.smoke_params) | {ctx.input_name}
    for name in dict.fromkeys(PARAM_REF.findall(body)):
        if name not in known:
            problems.append(ctx.loc.problem(
                path, f"placeholder ${{parameters.{name}}} is not defined (connector.parameters or smoke.parameters)"))

    def fill(match: "re.Match[str]") -> str:
        name = match.group(1)
        if name not in known:
            return UNKNOWN_SAMPLE
        value = _sample(ctx, name)
        return json.dumps(value)[1:-1] if isinstance(value, str) else json.dumps(value)

    filled = CRED_REF.sub(UNKNOWN_SAMPLE, PARAM_REF.sub(fill, body))
    try:
        json.loads(filled)
    except ValueError as exc:
        detail = f"{exc.msg} at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else str(exc)
        problems.append(ctx.loc.problem(
            path, f"request_body is not valid JSON once placeholders are filled with sample values: {detail}"))
    return problems


def check_actions(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """URL, headers and body of every action, and the presence of a predict action."""
    connector = _dict(data.get("connector"))
    actions = connector.get("actions")
    if not isinstance(actions, list):
        return []
    ctx = _Context(data, loc)
    problems: List[Problem] = []
    for i, action in enumerate(actions):
        if not isinstance(action, dict):
            continue
        base = ("connector", "actions", i)
        if isinstance(action.get("url"), str):
            problems += check_url(ctx, base + ("url",), action["url"])
        if isinstance(action.get("headers"), dict):
            problems += check_headers(ctx, base + ("headers",), action["headers"])
        if isinstance(action.get("request_body"), str):
            problems += check_body(ctx, base + ("request_body",), action["request_body"])
    types = [a.get("action_type") for a in actions if isinstance(a, dict)]
    if "predict" not in types and all(t in ACTION_TYPES for t in types):
        problems.append(loc.problem(("connector", "actions"), "no predict action (add one with action_type: predict)"))
    return problems


def check_durations(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """``deploy.timeout``, ``smoke.timeout`` and ``predict.timeout`` must be positive durations."""
    problems: List[Problem] = []
    for section in ("deploy", "smoke", "predict"):
        block = _dict(data.get(section))
        if "timeout" in block:
            try:
                parse_duration(block["timeout"])
            except ValueError as exc:
                problems.append(loc.problem((section, "timeout"), str(exc)))
    return problems


def check_smoke(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Every smoke expectation is well-formed."""
    expect = _dict(data.get("smoke")).get("expect")
    if not isinstance(expect, list):
        return []
    problems: List[Problem] = []
    for i, item in enumerate(expect):
        if isinstance(item, dict):
            problems += check_expectation(loc, ("smoke", "expect", i), item)
    return problems


def check_predict_and_ollama(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """``predict.answer``/``predict.reasoning`` are valid paths; ``ollama.host`` is an http(s) URL."""
    problems: List[Problem] = []
    predict = _dict(data.get("predict"))
    for key in ("answer", "reasoning"):
        if isinstance(predict.get(key), str) and predict[key]:
            problems += path_problems(loc, ("predict", key), predict[key])
    host = _dict(data.get("ollama")).get("host")
    if isinstance(host, str) and host and "${env:" not in host:
        problem = url_problem(host)
        if problem:
            problems.append(loc.problem(("ollama", "host"), problem.replace("url", "host", 1)))
    return problems


def check_preflight(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """``preflight``: its URL and headers resolve like an action's, ``models`` is a path, ``model`` resolves."""
    raw = data.get("preflight")
    if not isinstance(raw, dict) or raw.get("enabled") is False:
        return []
    ctx = _Context(data, loc)
    problems: List[Problem] = []
    if isinstance(raw.get("url"), str) and raw["url"]:
        problems += check_url(ctx, ("preflight", "url"), raw["url"])
        problems += credential_destination(data, loc, raw)
    if isinstance(raw.get("headers"), dict):
        problems += check_headers(ctx, ("preflight", "headers"), raw["headers"])
    if isinstance(raw.get("models"), str) and raw["models"]:
        try:
            split_wildcard(raw["models"])
        except ValueError as exc:
            problems.append(loc.problem(("preflight", "models"), f"bad path {raw['models']!r}: {exc}"))
    model = raw.get("model", "${parameters.model}")
    if isinstance(model, str):
        where = ("preflight", "model") if "model" in raw else ("preflight",)
        problems += [loc.problem(where, f"placeholder ${{parameters.{name}}} is not defined in connector.parameters"
                                        + ("" if "model" in raw else " (set preflight.model)"))
                     for name in ctx.undefined_params(model)]
        problems += [loc.problem(where, "the model must not come from a credential")
                     for _ in CRED_REF.findall(model)[:1]]
    return problems


CHECKS: List[Callable[[Dict[str, Any], Locator], List[Problem]]] = [
    check_actions, check_durations, check_smoke, check_predict_and_ollama, check_preflight, check_reasoning_effort,
    check_access, check_consumers, check_fallbacks,
]


def semantic_problems(data: Dict[str, Any], loc: Locator) -> List[Problem]:
    """Run every semantic check."""
    problems: List[Problem] = []
    for check in CHECKS:
        problems += check(data, loc)
    return problems
