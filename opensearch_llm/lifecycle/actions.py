"""A plan's steps: :class:`Action` and the operations it names."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

CREATE, NOOP, REPLACE, UPDATE, DEPLOY, PROBE = "create", "noop", "replace", "update", "deploy", "probe"
SWITCH = "switch"  # a new connector, then Update Model points the live model at it (same model_id)
UPDATABLE = ("description", "interface", "deploy_setting", "rate_limiter", "guardrails", "is_enabled")


@dataclass(frozen=True)
class Action:
    """One step of a plan."""

    step: str
    op: str
    name: str
    reason: str
    resource_id: Optional[str] = None
    detail: dict = field(default_factory=dict)
