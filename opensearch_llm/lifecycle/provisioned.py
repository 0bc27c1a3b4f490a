"""What ``apply`` made: :class:`Provisioned`, and the view of a run the consumer steps work through."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Callable, Optional, Protocol

from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.lifecycle.naming import Marker
from opensearch_llm.lifecycle.switch import Switch

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint
    from opensearch_llm.lifecycle.plan import Plan


@dataclass
class Provisioned:
    """The outcome of ``apply``: ids by kind, what this run created, and the model's final state."""

    blueprint: str
    run_id: str
    ids: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    changed: bool = False
    model_state: str = ""
    switched: Optional[Switch] = None  # the live model now uses a new connector (see lifecycle.switch)
    updated: list[str] = field(default_factory=list)  # model fields changed in place
    serving: str = ""  # where the model serves, e.g. "2/2 nodes: node-2, node-3"
    group_description: str = field(default="", repr=False)  # of the group this run created (see end_lease)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


class RunInProgress(Protocol):
    """A run of ``apply`` as the steps after the model see it (see :mod:`opensearch_llm.lifecycle.consumer_apply`)."""

    client: "OpenSearch"
    bp: "Blueprint"
    plan: "Plan"
    options: RunOptions
    journal: Journal
    result: Provisioned

    def marker(self, digest: Optional[str] = None) -> Marker:
        """The ownership marker for a resource of this run."""

    def created(self, kind: str, rid: str, name: str, step: Optional[str] = None) -> None:
        """Journal a creation."""

    def create_or_find(self, kind: str, name: str, create: Callable[[], str]) -> str:
        """Create; when the outcome is unknown, look the resource up before trying again."""
