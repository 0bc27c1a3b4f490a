"""Resource names and the ownership marker every resource we create carries in its description."""

from __future__ import annotations

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
    r"\(opensearch-llm run:(?P<run>[\w.-]+)(?: kind:(?P<kind>up|smoke))?(?: owner:(?P<owner>[\w.@-]+))? "
    r"blueprint:(?P<blueprint>[\w.-]+) "
    r"created:(?P<created>[0-9TZ:.-]+)(?: hash:(?P<hash>[0-9a-f]+))?\)"
)
UP, SMOKE = "up", "smoke"


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

    def text(self) -> str:
        """The marker as it appears in a description."""
        kind = f" kind:{self.kind}" if self.kind else ""
        owner = f" owner:{self.owner}" if self.owner else ""
        tail = f" hash:{self.hash}" if self.hash else ""
        return f"({TOOLKIT} run:{self.run}{kind}{owner} blueprint:{self.blueprint} created:{self.created}{tail})"

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
    return Marker(m["run"], m["blueprint"], m["created"], m["hash"], m["kind"], m["owner"]) if m else None


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
