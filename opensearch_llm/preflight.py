"""Lifecycle step 0: ask the provider, from this machine, whether the key is accepted and the model offered.

The blueprint declares how (``preflight:``): a listing URL, where the offered ids are in its answer
(a path with one ``[*]``), the model that must be among them, and the headers (default: the predict
action's, so the connector's own auth header is sent).  :func:`preflight` runs before any cluster
request of ``plan``, ``up``, ``smoke`` and ``doctor``:

* the key is refused (401/403) or the model is not offered -> :class:`~opensearch_llm.errors.PreflightRefused`
  (exit 2; nothing was sent to the cluster), naming the provider's status and text, the models it
  offers and the nearest match;
* the provider is unreachable (the cluster may sit on a network this machine does not), has no
  listing (404/405), answers another error or an unreadable listing -> one ``warn(...)`` line, and
  the run goes on;
* an Ollama model that is missing while ``ollama.pull: true`` is not a refusal: ``up`` pulls it;
* a legacy name the provider still answers but no longer lists (:data:`~opensearch_llm.model_names.LEGACY`)
  passes with a warning.

Credential values are revealed only into the request headers; every text that leaves this module
is masked.  ``requests`` is imported only when a check runs.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, TYPE_CHECKING

from opensearch_llm.blueprint.interpolate import SECRET_NAME
from opensearch_llm.catalog import ENV_REF
from opensearch_llm.errors import PreflightRefused, excerpt, short_cause
from opensearch_llm.model_names import RETIRED, is_offered, nearest, not_offered_message, served_by
from opensearch_llm.resources.settings import origin
from opensearch_llm.secrets import MASK, Secret, mask_text

if TYPE_CHECKING:
    import requests

    from opensearch_llm.blueprint.model import Blueprint

__all__ = ["RETIRED", "PreflightReport", "build_request", "fill", "nearest", "not_offered_message", "preflight"]

REFUSED_STATUSES = (401, 403)
NO_LISTING_STATUSES = (404, 405)
_REF = re.compile(r"\$\{(parameters|credential)\.([^}]+)\}")
_MODEL_ENV = re.compile(r"^\s+model:\s*[\"']?\$\{env:([A-Za-z_][A-Za-z0-9_]*)", re.M)
_LOG = logging.getLogger(__name__)


# statuses: ok | pull (missing, ollama.pull fetches it) | legacy (answered, not listed) | refused (key)
#           | not-offered (model) | unreachable | no-listing | unavailable (other answer) | skipped
REFUSALS = ("refused", "not-offered", "wrong-url")
WARNINGS = ("legacy", "unreachable", "no-listing", "unavailable")


@dataclass
class PreflightReport:
    """What the provider said; ``reason`` explains every status but ``ok``. Masked: safe to print."""

    provider: str
    model: str
    status: str
    url: str = ""
    offered: List[str] = field(default_factory=list)
    reason: str = ""
    http_status: Optional[int] = None
    seconds: float = 0.0

    @property
    def refused(self) -> bool:
        """True when the run must stop (the key is refused or the model is not offered)."""
        return self.status in REFUSALS

    @property
    def warned(self) -> bool:
        """True when the check could not be made (the run goes on with a warning)."""
        return self.status in WARNINGS

    def to_dict(self) -> Dict[str, Any]:
        """JSON-ready view."""
        return asdict(self)


@dataclass(frozen=True)
class _Request:
    url: str
    shown_url: str
    provider: str
    headers: Dict[str, str]
    model: str
    models_path: str
    secrets: Sequence[str]
    wrong_base_url_on_404: bool = False  # preflight.not_found: wrong_base_url


def _log_warning(message: str) -> None:
    _LOG.warning(message)


def preflight(blueprint: "Blueprint", *, timeout: float = 5.0,
              warn: Callable[[str], None] = _log_warning) -> PreflightReport:
    """Ask the provider behind ``blueprint``; raise :class:`PreflightRefused` on a refusal, else report."""
    spec = getattr(blueprint, "preflight", None)
    if spec is None or not spec.enabled:
        why = "the blueprint declares no preflight" if spec is None else "preflight.enabled is false"
        return PreflightReport(provider="", model="", status="skipped", reason=why)
    request = build_request(blueprint)
    report = ask(request, timeout=timeout, will_pull=_will_pull(blueprint))
    if report.refused:
        raise PreflightRefused(report.reason, report=report, hint=_hint(blueprint, report))
    if report.warned:
        warn(report.reason)
    return report


def build_request(blueprint: "Blueprint") -> _Request:
    """The GET the blueprint's ``preflight`` section describes, templates filled (secrets only in headers)."""
    spec = blueprint.preflight
    params: Mapping[str, Any] = blueprint.connector.parameters
    credential: Mapping[str, Any] = blueprint.connector.body.get("credential") or {}
    secrets = [v.reveal() if isinstance(v, Secret) else str(v) for v in credential.values()]
    headers = spec.headers if spec.headers is not None else blueprint.connector.predict_action.get("headers", {})
    url = fill(spec.url, params, credential, reveal=True)
    shown = mask_text(fill(spec.url, params, credential, reveal=False), secrets)
    base = params.get("base_url")
    provider = base.rstrip("/") if isinstance(base, str) and url.startswith(base) else origin(url)
    return _Request(url=url, shown_url=shown, provider=mask_text(provider, secrets),
                    headers={str(k): fill(str(v), params, credential, reveal=True) for k, v in headers.items()},
                    model=fill(spec.model, params, credential, reveal=False), models_path=spec.models,
                    secrets=secrets, wrong_base_url_on_404=spec.not_found == "wrong_base_url")


def fill(template: str, params: Mapping[str, Any], credential: Mapping[str, Any], *, reveal: bool) -> str:
    """``template`` with ``${parameters.x}`` and ``${credential.x}`` filled (credentials ``***`` unless ``reveal``)."""
    def sub(match: "re.Match[str]") -> str:
        kind, name = match.groups()
        source = params if kind == "parameters" else credential
        if name not in source:
            return match.group(0)
        value = source[name]
        if kind == "credential":
            return (value.reveal() if isinstance(value, Secret) else str(value)) if reveal else MASK
        return value if isinstance(value, str) else json.dumps(value)
    return _REF.sub(sub, template)


def _will_pull(blueprint: "Blueprint") -> bool:
    spec = getattr(blueprint, "ollama", None)
    return bool(spec is not None and spec.pull)


def ask(request: _Request, *, timeout: float, will_pull: bool = False) -> PreflightReport:
    """GET the listing and judge the answer (never raises for network or HTTP trouble)."""
    import requests

    started = time.perf_counter()
    report = PreflightReport(provider=request.provider, model=request.model, status="ok", url=request.shown_url)
    try:
        response = requests.get(request.url, headers=request.headers, timeout=timeout)
    except requests.RequestException as exc:
        report.status = "unreachable"
        report.reason = mask_text(f"preflight skipped: {request.provider} is not reachable from this machine "
                                  f"({_cause(exc)}); going on without checking the key and the model "
                                  "(the cluster may still reach it)", request.secrets)
        return _timed(report, started)
    report.http_status = response.status_code
    return _timed(_judge(report, request, response, will_pull), started)


def _timed(report: PreflightReport, started: float) -> PreflightReport:
    report.seconds = round(time.perf_counter() - started, 3)
    return report


def _cause(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {short_cause(str(exc))}"


def _judge(report: PreflightReport, request: _Request, response: "requests.Response",
           will_pull: bool) -> PreflightReport:
    status = response.status_code
    where = f"GET {request.shown_url} -> HTTP {status}"
    if status in REFUSED_STATUSES:
        report.status = "refused"
        report.reason = f"{request.provider} refused the key: {where}: {provider_text(response, request.secrets)}"
    elif status == 404 and request.wrong_base_url_on_404 and _answers_under_v1(request):
        report.status = "wrong-url"
        base = request.shown_url.rsplit("/models", 1)[0]
        report.reason = (f"{where}: there is no OpenAI-compatible API at {base}; it answers under "
                         f"{base.rstrip('/')}/v1 (llama.cpp, vLLM, LM Studio and OpenAI serve it under /v1)")
    elif status in NO_LISTING_STATUSES:
        report.status = "no-listing"
        report.reason = f"preflight skipped: {where} (no model listing); going on without checking the model"
    elif not 200 <= status < 300:
        report.status = "unavailable"
        report.reason = f"preflight inconclusive: {where}: {provider_text(response, request.secrets)}; going on"
    else:
        _judge_listing(report, request, response, will_pull)
    return report


def _answers_under_v1(request: _Request) -> bool:
    """True when the listing the blueprint asks for is 404 but ``{base}/v1/models`` answers: the base URL lacks /v1
    (an Azure deployment URL has no listing anywhere: that stays a warning)."""
    import requests

    if not request.url.endswith("/models") or request.url.rstrip("/").endswith("/v1/models"):
        return False
    try:
        return requests.get(request.url[: -len("/models")] + "/v1/models", headers=request.headers, timeout=5).ok
    except requests.RequestException:
        return False


def _judge_listing(report: PreflightReport, request: _Request, response: "requests.Response",
                   will_pull: bool) -> None:
    from opensearch_llm.blueprint.paths import get_all

    path = request.models_path
    try:
        offered = [str(m) for m in get_all(response.json(), path)]
    except (ValueError, KeyError) as exc:
        report.status = "unavailable"
        report.reason = mask_text(f"preflight inconclusive: GET {request.shown_url} answered, but no model ids at "
                                  f"{path} ({excerpt(str(exc), 200)}); going on", request.secrets)
        return
    report.offered = offered
    if is_offered(request.model, offered):
        return
    serving = served_by(request.model, offered)
    if serving is not None:
        report.status = "legacy"
        report.reason = (f"preflight: {request.provider} no longer lists {request.model} but still answers it "
                         f"(served by {serving}); consider {serving}")
        return
    if will_pull:
        report.status = "pull"
        report.reason = f"{request.model} is not on {request.provider} yet; up pulls it (ollama.pull: true)"
        return
    report.status = "not-offered"
    report.reason = not_offered_message(request.model, request.provider, offered)


def provider_text(response: "requests.Response", secrets: Sequence[str] = ()) -> str:
    """The provider's error message, ``error.message`` (OpenAI), ``error`` (Ollama), else the body's start:
    masked (every registered secret and ``secrets``) before it is cut to 300 characters, so no cut-off
    secret escapes the mask."""
    from opensearch_llm.resources.predict import error_text

    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split()) or response.reason or ""
    else:
        text = error_text(body)
    return excerpt(mask_text(text, secrets), 300)


def _hint(blueprint: "Blueprint", report: PreflightReport) -> str:
    text = _source_text(blueprint)
    if report.status == "wrong-url":
        base = report.url.rsplit("/models", 1)[0].rstrip("/")
        names = [m.group(1) for m in ENV_REF.finditer(text) if m.group(1).endswith("BASE_URL")]
        how = f"{names[0]}={base}/v1" if names else f"--set connector.parameters.base_url={base}/v1"
        return f"set {how}; --no-preflight skips this check"
    if report.status == "refused":
        names = sorted({m.group(1) for m in ENV_REF.finditer(text) if SECRET_NAME.search(m.group(1))})
        which = f"check {' / '.join(names)}" if names else "check connector.credential"
        return f"{which}; --no-preflight skips this check"
    choice = nearest(report.model, report.offered) or "<model>"
    param = re.fullmatch(r"\$\{parameters\.([^}]+)\}", blueprint.preflight.model)
    how = f"--set connector.parameters.{param.group(1)}={choice}" if param else "change the model"
    env = _MODEL_ENV.search(text)
    how = f"{env.group(1)}={choice} or {how}" if env and param else how
    if getattr(blueprint, "ollama", None) is not None:
        how += (f"; or pull it: --set ollama.pull=true, or opensearch-llm ollama pull {report.model} "
                f"--host {report.provider}")
    return f"pick an offered model: {how}; --no-preflight skips this check"


def _source_text(blueprint: "Blueprint") -> str:
    """The blueprint file's text (for the names of the variables it reads), or ""."""
    from pathlib import Path

    try:
        return Path(blueprint.source).read_text(encoding="utf-8")
    except (OSError, TypeError):
        return ""
