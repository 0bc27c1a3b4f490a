"""Resource names and the ownership marker every resource we create carries in its description."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Optional, TYPE_CHECKING, Union

from opensearch_llm.secrets import mask_text, masked

if TYPE_CHECKING:
    from opensearch_llm.blueprint.identity import BlueprintIdentity
    from opensearch_llm.blueprint.model import Blueprint

TOOLKIT = "opensearch-llm"
# Only characters ML Commons 3.x accepts in names and descriptions: letters, digits, spaces
# and .,!?():@-_/'" (StringUtils.SAFE_INPUT_PATTERN).
MARKER_RE = re.compile(
    r"\(opensearch-llm run:(?P<run>[\w.-]+)(?: kind:(?P<kind>up|smoke|settings))?(?: owner:(?P<owner>[\w.@-]+))? "
    r"blueprint:(?P<blueprint>[\w.-]+) "
    r"created:(?P<created>[0-9TZ:.-]+)(?: hash:(?P<hash>[0-9a-f]+))?(?P<extra>(?: [a-z]+:[^\s()]+)*)\)"
)
UP, SMOKE, SETTINGS = "up", "smoke", "settings"
EXTRA_RE = re.compile(r" ([a-z]+):([^\s()]+)")


@dataclass(frozen=True)
class Marker:
    """Who created a resource: toolkit run, run kind, blueprint, creation time and a config fingerprint.

    ``kind`` is ``up`` (a deployment meant to stay) or ``smoke`` (meant to go); markers written
    before kinds existed have none, and :meth:`run_kind` infers it from the run-scoped name.
    """

    run: str
    blueprint: str
    created: str
    hash: Optional[str] = None
    kind: Optional[str] = None
    owner: Optional[str] = None  # the authenticated user who created it, where the cluster has users
    # key:value tokens after the hash: the run's lease and host (lifecycle.lease) and, on a model group, the
    # settings record (lifecycle.ledger); values use only the characters ML Commons 3.x accepts
    extra: tuple[tuple[str, str], ...] = ()

    def text(self) -> str:
        """The marker as it appears in a description."""
        kind = f" kind:{self.kind}" if self.kind else ""
        owner = f" owner:{self.owner}" if self.owner else ""
        tail = f" hash:{self.hash}" if self.hash else ""
        tail += "".join(f" {key}:{value}" for key, value in self.extra if value)
        return f"({TOOLKIT} run:{self.run}{kind}{owner} blueprint:{self.blueprint} created:{self.created}{tail})"

    def get(self, key: str) -> Optional[str]:
        """The value of extra token ``key``, or None."""
        return dict(self.extra).get(key)

    def with_extra(self, **tokens: Optional[str]) -> "Marker":
        """This marker with ``tokens`` set (None or "" drops a token)."""
        merged = {**dict(self.extra), **tokens}
        return dataclasses.replace(self, extra=tuple((k, v) for k, v in merged.items() if v))

    def run_kind(self, name: str) -> str:
        """``up`` or ``smoke``; for old markers, smoke when ``name`` carries the run id (run-scoped names)."""
        if self.kind:
            return self.kind
        return SMOKE if name.endswith(f"-{self.run}") else UP

    def created_at(self) -> datetime:
        """The creation time as an aware datetime."""
        return datetime.strptime(self.created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def parse_marker(description: Any) -> Optional[Marker]:
    """The marker in ``description``, or None when the resource is not ours."""
    if not isinstance(description, str):
        return None
    m = MARKER_RE.search(description)
    if not m:
        return None
    return Marker(m["run"], m["blueprint"], m["created"], m["hash"], m["kind"], m["owner"],
                  tuple(EXTRA_RE.findall(m["extra"] or "")))


def owner_token(user: Optional[str]) -> Optional[str]:
    """``user`` as it can stand in a marker (ML Commons 3.x accepts only a few characters in descriptions)."""
    return re.sub(r"[^\w.@-]", "_", user) if user else None


def with_marker(description: str, marker: Marker) -> str:
    """``description`` followed by the marker."""
    return f"{description} {marker.text()}".strip()


def now_utc() -> str:
    """The current UTC time in the marker's format."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_run_id() -> str:
    """A sortable, unique run id such as ``20261121T120501-3fa2c1``."""
    return f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{_random.token_hex(3)}"


def fingerprint(value: Any) -> str:
    """A short digest of a configuration with every secret masked: nothing stored in the cluster is
    derived from a secret, so a changed key alone is not a change here (it needs a new connector)."""
    # masked twice: Secrets by type, and any registered secret value used outside the credential
    raw = mask_text(json.dumps(masked(value), sort_keys=True, default=str)).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


@dataclass(frozen=True)
class Names:
    """The names one run gives its model group, connector and model."""

    model_group: str
    connector: str
    model: str
    consumers: tuple = ()  # (step, name) of the RAG, agent and ingest resources

    def consumer(self, step: str) -> str:
        """The name of consumer ``step``."""
        return dict(self.consumers)[step]


def names_for(blueprint: Union["Blueprint", "BlueprintIdentity"], run_id: Optional[str] = None) -> Names:
    """Stable names (``up``) or, with ``run_id``, run-scoped names (``smoke``) that never collide.

    Consumer names get the run id in lowercase: index names must be.
    """
    suffix = f"-{run_id}" if run_id else ""
    consumers = tuple((step, name + suffix.lower()) for step, name in blueprint.consumer_names)
    return Names(blueprint.model_group.name + suffix, blueprint.connector.name + suffix,
                 blueprint.model.name + suffix, consumers)


PROVISIONED_BY_SINCE = (3, 7)


def provisioned_by(version: str) -> dict:
    """``{"provisioned_by": "opensearch-llm"}`` where ML Commons has the field (3.7+, on connectors, models and
    agents), else nothing: 2.19 and 3.6 ignore or refuse unknown fields. ``status`` and ``sweep`` still rely on the
    marker alone."""
    try:
        parts = tuple(int(p) for p in version.split("-")[0].split(".")[:2])
    except ValueError:
        return {}
    return {"provisioned_by": TOOLKIT} if parts >= PROVISIONED_BY_SINCE else {}
