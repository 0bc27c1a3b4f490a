"""One error tree for opensearch-llm.

::

    OpenSearchLLMError                      exit 1 unless a subclass says otherwise
    ├── InvalidInputError                   exit 2: nothing was changed
    │   ├── BlueprintError                  a blueprint file is malformed (carries every Problem)
    │   │   └── MissingEnvError             only ${env:NAME} / requires_env problems
    │   └── PreflightRefused                the provider refused the key or does not offer the model
    ├── LocalNodeError                      the local OpenSearch launcher failed
    │   ├── JavaNotFoundError               no JDK fits the OpenSearch line
    │   ├── DownloadError                   mvn could not fetch or verify an artifact
    │   ├── PortInUseError                  the requested port is taken
    │   └── NodeStartError                  the node did not become ready (carries its log tail)
    ├── ClusterError                        OpenSearch answered with an error (kind, id, method, path, status)
    │   ├── NotFoundError                   404 (getters turn this into None)
    │   └── AuthenticationError             401: the cluster refused the username/password
    ├── UpstreamError                       the LLM behind a connector failed (status, provider message)
    │   ├── UpstreamAuthError               the provider refused the key (401/403)
    │   ├── UpstreamRateLimitError          the provider answered 429
    │   └── UpstreamUnreachableError        network failure between OpenSearch and the provider
    ├── DeployError                         DEPLOY_FAILED or deploy timeout (carries the last model document)
    ├── SmokeError                          a smoke expectation did not hold
    ├── BusyError                           another run is provisioning the same blueprint (who, since when)
    └── LeftoversError                      exit 3: teardown or sweep left resources behind

Ctrl-C and SIGTERM surface as KeyboardInterrupt (after cleanup); the CLI maps them to exit 130.

Every message is built from already-masked text: callers pass excerpts through
:func:`opensearch_llm.secrets.mask_text` before they reach an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Optional, Sequence

EXCERPT_LIMIT = 500


def excerpt(text: Any, limit: int = EXCERPT_LIMIT) -> str:
    """Return ``text`` as a single string cut to ``limit`` characters."""
    s = text if isinstance(text, str) else repr(text)
    return s if len(s) <= limit else s[: limit - 3] + "..."


_CAUSE = re.compile(r"\[Errno -?\d+\] [^)'\"]+|Failed to resolve '[^']+'|timed out[^)'\"]*"
                    r"|certificate verify failed[^)'\"]*")


def short_cause(text: str) -> str:
    """The telling part of a connection error (``[Errno 111] Connection refused``, ``timed out``, ...)."""
    m = _CAUSE.search(text)
    return m[0].strip() if m else excerpt(text, 160)


class OpenSearchLLMError(Exception):
    """Root of every error this toolkit raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, hint: Optional[str] = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class InvalidInputError(OpenSearchLLMError, ValueError):
    """Bad input: nothing was sent to the cluster."""

    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file."""

    file: str
    line: Optional[int]
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path or '<root>'}: {self.message}"


class BlueprintError(InvalidInputError):
    """A blueprint has one or more problems; ``problems`` lists them all."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(str(p) for p in self.problems)
        super().__init__(f"{len(self.problems)} problem(s) in blueprint:\n{lines}")


class MissingEnvError(BlueprintError):
    """Environment variables a blueprint needs are not set (every problem is an env problem)."""


class PreflightRefused(InvalidInputError):
    """Before any cluster request the provider refused the key or does not offer the model.

    ``report`` is the :class:`~opensearch_llm.preflight.PreflightReport` (masked; no secret in it).
    """

    def __init__(self, message: str, *, report: Any = None, hint: Optional[str] = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class LocalNodeError(OpenSearchLLMError):
    """The local OpenSearch launcher failed."""


class JavaNotFoundError(LocalNodeError):
    """No installed JDK fits the requested OpenSearch line."""


class DownloadError(LocalNodeError):
    """An artifact could not be fetched from Maven Central or did not verify."""


class PortInUseError(LocalNodeError):
    """The requested port is already taken on 127.0.0.1."""


class NodeStartError(LocalNodeError):
    """The node did not become ready; ``log_tail`` holds its last log lines."""

    def __init__(self, message: str, *, log_tail: str = "", hint: Optional[str] = None) -> None:
        super().__init__(message, hint=hint)
        self.log_tail = log_tail


class ClusterError(OpenSearchLLMError):
    """OpenSearch answered a request with an error."""

    def __init__(
        self,
        message: str,
        *,
        kind: Optional[str] = None,
        resource_id: Optional[str] = None,
        method: Optional[str] = None,
        path: Optional[str] = None,
        status: Optional[int] = None,
        body_excerpt: str = "",
        hint: Optional[str] = None,
        reached: bool = True,
        timed_out: bool = False,
    ) -> None:
        super().__init__(message, hint=hint)
        self.reached = reached  # False only when the request certainly never reached the cluster
        self.timed_out = timed_out  # the request was sent and no answer came within the timeout
        self.kind = kind
        self.resource_id = resource_id
        self.method = method
        self.path = path
        self.status = status
        self.body_excerpt = excerpt(body_excerpt)

    def __str__(self) -> str:
        where = " ".join(x for x in (self.method, self.path) if x)
        what = " ".join(x for x in (self.kind, self.resource_id) if x)
        head = f"{self.message}"
        if what:
            head = f"{what}: {head}"
        if where or self.status:
            head += f" [{where}{' -> ' if where and self.status else ''}{self.status or ''}]"
        if self.hint:
            head += f" ({self.hint})"
        return head


class NotFoundError(ClusterError):
    """The resource does not exist (HTTP 404)."""


class AuthenticationError(ClusterError):
    """The cluster refused the credentials (HTTP 401)."""


class UpstreamError(OpenSearchLLMError):
    """The LLM provider behind a connector failed."""

    def __init__(
        self, message: str, *, status: Optional[int] = None, provider_message: str = "",
        hint: Optional[str] = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.provider_message = excerpt(provider_message)


class UpstreamAuthError(UpstreamError):
    """The provider refused the API key."""


class UpstreamRateLimitError(UpstreamError):
    """The provider rate-limited the request."""


class UpstreamUnreachableError(UpstreamError):
    """OpenSearch could not reach the provider."""


class UpstreamTimeoutError(UpstreamError):
    """The provider took longer than the connector's ``read_timeout``: the call may have run (and been billed)."""


class NotProvisionedError(OpenSearchLLMError):
    """The blueprint has no model the caller can use in this cluster (no call was sent)."""


class DeployError(OpenSearchLLMError):
    """A model did not reach DEPLOYED; ``model_doc`` is the last document seen."""

    def __init__(self, message: str, *, model_doc: Optional[dict] = None) -> None:
        super().__init__(message)
        self.model_doc = model_doc or {}


class SmokeError(OpenSearchLLMError):
    """A smoke expectation did not hold."""

    def __init__(self, message: str, *, failures: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.failures = list(failures)


class BusyError(OpenSearchLLMError):
    """Another run (on this or another host) is provisioning the same blueprint and did not finish in time."""

    def __init__(self, message: str, *, run: str = "", hint: Optional[str] = None) -> None:
        super().__init__(message, hint=hint)
        self.run = run


class LeftoversError(OpenSearchLLMError):
    """Teardown or sweep could not remove everything."""

    exit_code = 3

    def __init__(self, message: str, *, leftovers: Sequence[Any] = (), errors: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.leftovers = list(leftovers)
        self.errors = list(errors)
