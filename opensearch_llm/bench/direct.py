"""The bench's direct path: the connector's predict request, rendered here and sent straight to the provider.

The URL, method, headers and ``request_body`` of the blueprint's predict action are filled with the same
parameters a ``_predict`` sends (the connector's, then the conversation's) by the preflight's renderer
(:func:`opensearch_llm.preflight.fill`). Credential values are revealed into the request only; the
request's repr hides them and every text that leaves this module is masked. A ``pre_process_function``
runs inside ML Commons and cannot be rendered here: such a blueprint gets no direct path, and the reason.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from opensearch_llm.errors import excerpt, short_cause
from opensearch_llm.lifecycle.conversation import build_parameters
from opensearch_llm.preflight import fill, provider_text
from opensearch_llm.secrets import Secret, mask_text

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

_UNFILLED = re.compile(r"\$\{(?:parameters|credential)\.[^}]+\}")
_KIND_OF_STATUS = {401: "UpstreamAuthError", 403: "UpstreamAuthError", 429: "UpstreamRateLimitError"}


class DirectError(Exception):
    """A direct call that produced no answer; ``label`` (and ``status``) name it in the error mix with the
    names the cluster path uses (``UpstreamRateLimitError 429``, ``UpstreamUnreachableError``, ...)."""

    def __init__(self, label: str, message: str, status: Optional[int] = None) -> None:
        super().__init__(message)
        self.label, self.status = label, status


@dataclass(frozen=True)
class DirectRequest:
    """One predict request as the cluster would send it; only ``shown_url`` is safe to print."""

    method: str
    shown_url: str
    url: str = field(repr=False)
    headers: Dict[str, str] = field(repr=False)
    body: bytes = field(repr=False)
    secrets: Tuple[str, ...] = field(repr=False, default=())


def direct_request(blueprint: "Blueprint", message: str) -> Tuple[Optional[DirectRequest], str]:
    """The predict request for ``message``, or None and why it cannot be rendered here."""
    action = blueprint.connector.predict_action
    if action.get("pre_process_function"):
        return None, ("the connector's pre_process_function runs inside ML Commons; the request it makes cannot "
                      "be rendered here")
    params = {**blueprint.connector.parameters, **build_parameters(blueprint, message)}
    credential: Mapping[str, Any] = blueprint.connector.body.get("credential") or {}
    secrets = tuple(v.reveal() if isinstance(v, Secret) else str(v) for v in credential.values())
    # a string goes into the body inside quotes: escaped as JSON, like the blueprint checks assume
    quoted = {k: json.dumps(v)[1:-1] if isinstance(v, str) else v for k, v in params.items()}
    url = fill(str(action.get("url", "")), params, credential, reveal=True)
    body = fill(str(action.get("request_body") or ""), quoted, credential, reveal=True)
    headers = {str(k): fill(str(v), params, credential, reveal=True) for k, v in (action.get("headers") or {}).items()}
    unfilled = _UNFILLED.findall(url + body + "".join(headers.values()))
    if unfilled:
        return None, f"{unfilled[0]} has no value in the connector's parameters"
    if not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = "application/json"
    shown = mask_text(fill(str(action.get("url", "")), params, credential, reveal=False), secrets)
    return DirectRequest(method=str(action.get("method") or "POST").upper(), shown_url=shown, url=url,
                         headers=headers, body=body.encode("utf-8"), secrets=secrets), ""


class DirectSender:
    """Sends the request once per call, with a ``requests.Session`` per thread; :meth:`close` closes them all."""

    def __init__(self, request: DirectRequest, timeout: float) -> None:
        self._request, self._timeout = request, timeout
        self._local = threading.local()
        self._sessions: List[Any] = []
        self._lock = threading.Lock()

    def _session(self) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            import requests

            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def __call__(self) -> int:
        """One call; raises :class:`DirectError` unless the provider answered 2xx. No retries: returns 0."""
        import requests

        req = self._request
        try:
            response = self._session().request(req.method, req.url, headers=req.headers, data=req.body,
                                               timeout=self._timeout, allow_redirects=False)
        except requests.Timeout:
            raise DirectError("Timeout", f"no answer from {req.shown_url} within {self._timeout:g} s") from None
        except requests.ConnectionError as exc:
            raise DirectError("UpstreamUnreachableError", mask_text(f"{req.shown_url}: {short_cause(str(exc))}",
                                                                   req.secrets)) from None
        except requests.RequestException as exc:
            raise DirectError(type(exc).__name__, mask_text(excerpt(str(exc), 200), req.secrets)) from None
        if not 200 <= response.status_code < 300:
            raise DirectError(_KIND_OF_STATUS.get(response.status_code, "UpstreamError"),
                              provider_text(response, req.secrets), status=response.status_code)
        return 0

    def close(self) -> None:
        """Close every thread's session."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

