"""``rotate``: new credentials through a new connector, the same ``model_id``, no downtime.

The credentials are read again from the environment (the blueprint is loaded afresh); a new
connector is created with them, the live model switches to it, the smoke probe proves the switch
through the same ``model_id``, and only then the old connector goes. A refused key switches back and
deletes the new connector: the model keeps answering with the old key. Connectors of this
blueprint that no model uses any more (an earlier ``rotate`` interrupted after its switch) go too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle import facts as facts_mod
from opensearch_llm.lifecycle.events import RunOptions, StepTimer
from opensearch_llm.lifecycle.journal import Journal, journal_dir, owner_fields
from opensearch_llm.lifecycle.naming import (
    UP, Marker, fingerprint, names_for, new_run_id, now_utc, owner_token, with_marker,
)
from opensearch_llm.lifecycle.smoke import SmokeResult, run_probe
from opensearch_llm.lifecycle.switch import Switch, finish, prove, revert, switch
from opensearch_llm.lifecycle.teardown import delete_one
from opensearch_llm.resources import connector

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint


@dataclass
class Rotated:
    """The model kept its id and now answers through ``switch.new``; ``cleaned`` are stale connectors removed."""

    blueprint: str
    run_id: str
    switch: Switch
    smoke: Optional[SmokeResult] = None
    cleaned: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {**asdict(self), "switch": self.switch.to_dict(), "smoke": self.smoke.to_dict() if self.smoke else None}


def rotate(client: "OpenSearch", blueprint: "Blueprint", options: RunOptions = RunOptions()) -> Rotated:
    """Rotate the credentials of ``blueprint``'s provisioned model (see the module docstring)."""
    names = names_for(blueprint)
    found = facts_mod.gather(client, blueprint.name, names)
    if found.model is None or found.model.doc.get("model_state") != "DEPLOYED":
        raise InvalidInputError(f"{blueprint.name} has no deployed model to rotate in this cluster",
                                hint=f"run: opensearch-llm up {blueprint.source}")
    model_id, old = found.model.id, found.model.doc.get("connector_id")
    run_id = new_run_id()
    options.on_run(run_id)
    journal = Journal.open(journal_dir(override=options.journal_dir), run_id)
    owner = owner_token(found.caller.user) if found.caller else None
    journal.write("start", blueprint=blueprint.name, mode="rotate", source=blueprint.source, owner=owner,
                  **owner_fields(n.id for n in found.nodes))
    new = _create(client, blueprint, names.connector, Marker(run_id, blueprint.name, now_utc(),
                                                             fingerprint(blueprint.connector.body), UP, owner), options)
    journal.write("created", kind="connector", id=new, name=names.connector)
    change = Switch(model_id, old, new)
    result = Rotated(blueprint.name, run_id, change)
    marker = Marker(run_id, blueprint.name, now_utc(), None, UP, owner)
    switched = False
    try:
        prove(client, blueprint, new, found.model.doc["model_group_id"], marker, journal, options)
        switch(client, change, journal, options)
        switched = True
        result.smoke = run_probe(client, blueprint, model_id, options)
    except BaseException as exc:
        journal.write("failed", error=type(exc).__name__)
        revert(client, change, journal, options, exc, switched)
        raise
    finish(client, change, journal, options)
    result.cleaned = _stale(client, blueprint.name, names.connector, {new}, journal, options)
    journal.write("applied", ids={"model": model_id, "connector": new})
    journal.write("done", ok=True)
    return result


def _create(client: "OpenSearch", blueprint: "Blueprint", name: str, marker: Marker, options: RunOptions) -> str:
    timer = StepTimer(options, "new connector")
    body = {**blueprint.connector.body, "name": name,
            "description": with_marker(blueprint.connector.body.get("description", ""), marker)}
    rid = connector.create(client, body)
    timer.done(rid)
    return rid


def _stale(client: "OpenSearch", blueprint: str, name: str, keep: set, journal: Journal,
           options: RunOptions) -> list[str]:
    """Our connectors of this blueprint and name that no model of ours uses (left by an interrupted rotate)."""
    listing = facts_mod.all_owned(client)
    used = {m.doc.get("connector_id") for m in listing if m.kind == "model"}
    stale = [c.id for c in listing if c.kind == "connector" and c.name == name and c.marker.blueprint == blueprint
             and c.id not in used and c.id not in keep]
    for rid in stale:
        delete_one(client, "connector", rid, options)
        journal.write("deleted", kind="connector", id=rid)
    return stale
