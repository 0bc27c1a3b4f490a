"""A small client for an Ollama host: its version, the models it has, and pulls with streaming progress.

::

    from opensearch_llm.ollama import OllamaHost

    host = OllamaHost()                          # argument, else $OLLAMA_BASE_URL, else http://127.0.0.1:11434
    if not host.has_model("llama3.2:1b"):        # a name without a tag means ":latest", as in Ollama
        summary = host.pull("llama3.2:1b", on_event=print)   # one dict per NDJSON line of /api/pull
        print(summary.layers, summary.bytes, summary.seconds)

Failures raise :class:`OllamaError` subclasses (all :class:`~opensearch_llm.errors.UpstreamError`, exit 1):
the host cannot be reached, the registry does not know the model, or the pull stream broke off or sent
something that is not JSON.  Every message passes through :func:`~opensearch_llm.secrets.mask_text`.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional

import requests
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from opensearch_llm.units import human_size  # noqa: F401 - re-exported
from opensearch_llm.errors import UpstreamError, UpstreamUnreachableError, excerpt
from opensearch_llm.secrets import mask_text

DEFAULT_BASE_URL = "http://127.0.0.1:11434"
BASE_URL_ENV = "OLLAMA_BASE_URL"
_UNKNOWN_MODEL = re.compile(r"file does not exist|manifest unknown|not found|no such model", re.IGNORECASE)
_USERINFO = re.compile(r"^([a-z][a-z0-9+.-]*://)[^/@]+@", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class OllamaError(UpstreamError):
    """Ollama answered with an error; ``base_url`` is the host that was asked."""

    def __init__(self, message: str, *, base_url: str = "", status: Optional[int] = None,
                 provider_message: str = "", hint: Optional[str] = None) -> None:
        super().__init__(mask_text(message), status=status, provider_message=mask_text(provider_message), hint=hint)
        self.base_url = base_url


class OllamaUnreachableError(OllamaError, UpstreamUnreachableError):
    """No HTTP answer from the Ollama host (refused, DNS, timeout)."""


class OllamaModelNotFoundError(OllamaError):
    """The registry (or the host) does not know the model; ``provider_message`` is Ollama's reason."""


class OllamaStreamError(OllamaError):
    """A pull stream ended without ``{"status": "success"}`` or sent a line that is not JSON."""


@dataclass(frozen=True)
class OllamaModel:
    """One model present on the host (an ``/api/tags`` entry)."""

    name: str
    size: int
    modified_at: str
    digest: str


@dataclass
class PullSummary:
    """A finished pull: how many layers and bytes it covered and how long it took."""

    model: str
    status: str
    layers: int
    bytes: int
    seconds: float
    digests: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def resolve_base_url(base_url: Optional[str] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """``base_url``, else ``$OLLAMA_BASE_URL``, else :data:`DEFAULT_BASE_URL`; no trailing slash."""
    env = os.environ if env is None else env
    return (base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")


def normalize_model_name(name: str) -> str:
    """``"llama3.2"`` -> ``"llama3.2:latest"``, like Ollama; names with a tag are kept."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def _short_reason(exc: BaseException) -> str:
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "the connection closed mid-stream"
    found = _ERRNO.search(str(exc))
    return found.group(1).strip() if found else type(exc).__name__


def _error_text(response: requests.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return excerpt(response.text.strip() or f"HTTP {response.status_code}", 300)
    err = data.get("error") if isinstance(data, dict) else None
    return str(err) if err else excerpt(json.dumps(data), 300)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, OllamaUnreachableError):
        return "timed out" not in exc.message  # a timeout already waited; refused/reset may be a restart
    return isinstance(exc, OllamaError) and exc.status == 503  # "server busy, please try again"


class OllamaHost:
    """An Ollama host at ``base_url`` (see :func:`resolve_base_url`).

    ``timeout`` is the connect and read timeout of every call in seconds; a pull waits up to
    ``pull_read_timeout`` between two progress lines (verifying a large model is silent for a while).
    GETs are retried on a refused connection and on 503 (``sleep`` is injectable for tests).
    """

    def __init__(self, base_url: Optional[str] = None, timeout: float = 10.0, *, pull_read_timeout: float = 600.0,
                 attempts: int = 3, sleep: Callable[[float], None] = time.sleep,
                 session: Optional[requests.Session] = None) -> None:
        self.base_url = resolve_base_url(base_url)
        self.timeout = timeout
        self.pull_read_timeout = pull_read_timeout
        self.attempts = attempts
        self.sleep = sleep
        self.session = session or requests.Session()

    def __repr__(self) -> str:
        return f"OllamaHost({self.shown_url!r})"

    @property
    def shown_url(self) -> str:
        """The base URL as it may be printed: user info masked, registered secrets masked."""
        return mask_text(_USERINFO.sub(r"\1***@", self.base_url))

    # plumbing -----------------------------------------------------------------------------------
    def _unreachable(self, exc: BaseException) -> OllamaUnreachableError:
        return OllamaUnreachableError(f"cannot reach Ollama at {self.shown_url}: {_short_reason(exc)}",
                                      base_url=self.shown_url,
                                      hint="start it with `ollama serve`, or point --host / OLLAMA_BASE_URL at it")

    def _request(self, method: str, path: str, *, stream: bool = False, read_timeout: Optional[float] = None,
                 **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, self.base_url + path, stream=stream,
                                        timeout=(self.timeout, read_timeout or self.timeout), **kwargs)
        except requests.RequestException as exc:
            raise self._unreachable(exc) from None

    def _get_json(self, path: str) -> Any:
        def once() -> Any:
            response = self._request("GET", path)
            if response.status_code != 200:
                text = _error_text(response)
                raise OllamaError(f"Ollama at {self.shown_url} answered {response.status_code} to GET {path}: {text}",
                                  base_url=self.shown_url, status=response.status_code, provider_message=text)
            try:
                return response.json()
            except ValueError:
                raise OllamaError(f"{self.shown_url}{path} did not answer JSON; is this an Ollama server?",
                                  base_url=self.shown_url, provider_message=excerpt(response.text, 200)) from None

        retrying = Retrying(stop=stop_after_attempt(max(self.attempts, 1)), sleep=self.sleep, reraise=True,
                            wait=wait_exponential(multiplier=0.2, max=2.0), retry=retry_if_exception(_transient))
        return retrying(once)

    # API ------------------------------------------------------------------------------------------
    def version(self) -> str:
        """The server version, e.g. ``0.12.6`` (``GET /api/version``)."""
        data = self._get_json("/api/version")
        return str(data.get("version", "")) if isinstance(data, dict) else ""

    def list_models(self) -> List[OllamaModel]:
        """The models present on the host (``GET /api/tags``), sorted by name."""
        data = self._get_json("/api/tags")
        entries = data.get("models") if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise OllamaError(f"unexpected /api/tags answer from {self.shown_url}: {excerpt(json.dumps(data), 200)}",
                              base_url=self.shown_url)
        models = [OllamaModel(name=str(m.get("name") or m.get("model") or ""), size=int(m.get("size") or 0),
                              modified_at=str(m.get("modified_at") or ""), digest=str(m.get("digest") or ""))
                  for m in entries if isinstance(m, dict)]
        return sorted(models, key=lambda m: m.name)

    def has_model(self, name: str) -> bool:
        """True when ``name`` is present; a missing tag means ``:latest``."""
        wanted = normalize_model_name(name).casefold()
        return any(normalize_model_name(m.name).casefold() == wanted for m in self.list_models())

    def pull(self, name: str, on_event: Optional[Callable[[Dict[str, Any]], None]] = None) -> PullSummary:
        """Pull ``name`` through ``POST /api/pull``, calling ``on_event`` with every progress line.

        Raise :class:`OllamaModelNotFoundError` when the registry does not know the model,
        :class:`OllamaStreamError` when the stream ends without ``success`` or sends a non-JSON line.
        """
        started = time.perf_counter()
        body = {"model": name, "name": name, "stream": True}  # "name" for Ollama < 0.5
        response = self._request("POST", "/api/pull", json=body, stream=True, read_timeout=self.pull_read_timeout)
        with response:
            if response.status_code != 200:
                raise self._pull_failed(name, _error_text(response), response.status_code)
            totals: Dict[str, int] = {}
            last = ""
            for event in self._events(name, response, lambda: last):
                if "error" in event:
                    raise self._pull_failed(name, str(event["error"]), None)
                status = str(event.get("status", ""))
                last = status or last
                digest = event.get("digest")
                if isinstance(digest, str) and isinstance(event.get("total"), int):
                    totals[digest] = max(totals.get(digest, 0), event["total"])
                if on_event is not None:
                    on_event(event)
                if status == "success":
                    return PullSummary(model=name, status=status, layers=len(totals), bytes=sum(totals.values()),
                                       seconds=time.perf_counter() - started, digests=list(totals))
        raise OllamaStreamError(
            f"the pull of {name} from {self.shown_url} ended before it finished "
            f"(no {{\"status\": \"success\"}}; last status: {last or 'none'})",
            base_url=self.shown_url, hint="run the pull again; Ollama resumes partial downloads")

    def _events(self, name: str, response: requests.Response, last: Callable[[], str]) -> Iterator[Dict[str, Any]]:
        try:
            for raw in response.iter_lines():
                line = raw.decode("utf-8", "replace").strip() if isinstance(raw, bytes) else str(raw).strip()
                if not line:
                    continue
                try:
                    event = json.loads(line)
                except ValueError:
                    event = None
                if not isinstance(event, dict):
                    raise OllamaStreamError(f"the pull of {name} from {self.shown_url} sent a line that is not a "
                                            f"JSON object: {excerpt(line, 120)!r}", base_url=self.shown_url)
                yield event
        except requests.RequestException as exc:
            raise OllamaStreamError(
                f"the pull of {name} from {self.shown_url} was cut off ({_short_reason(exc)}; "
                f"last status: {last() or 'none'})",
                base_url=self.shown_url, hint="run the pull again; Ollama resumes partial downloads") from None

    def _pull_failed(self, name: str, reason: str, status: Optional[int]) -> OllamaError:
        reason = reason.strip()
        if _UNKNOWN_MODEL.search(reason):
            return OllamaModelNotFoundError(
                f"Ollama at {self.shown_url} cannot pull {name}: {reason}", base_url=self.shown_url, status=status,
                provider_message=reason, hint="check the name and tag on https://ollama.com/library")
        return OllamaError(f"Ollama at {self.shown_url} failed to pull {name}: {reason}", base_url=self.shown_url,
                           status=status, provider_message=reason)
