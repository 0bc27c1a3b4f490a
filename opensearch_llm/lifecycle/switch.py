"""Change a live model without downtime: point it at another connector with Update Model (same ``model_id``).

ML Commons refuses Update Connector while a deployed model uses the connector, but Update Model
(2.12+) switches a deployed model to another ``connector_id`` and refreshes it on its workers. So a
new key or a new request template goes: new connector → proven on a throwaway model (the live one
is untouched while it is tested) → switch → the smoke probe through the same ``model_id`` → delete
the old connector; when a probe fails: switch back → delete the new connector. Each step
is journaled (``switched``, ``deleted``), so ``sweep`` or the next ``rotate`` can finish or undo it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions, StepTimer, add_note
from opensearch_llm.lifecycle.journal import Journal
from opensearch_llm.lifecycle.naming import SMOKE, Marker, with_marker
from opensearch_llm.lifecycle.smoke import run_probe
from opensearch_llm.lifecycle.teardown import delete_one, retry_transient
from opensearch_llm.resources import model

# ML Commons answers Update Model before a remote model with a stand-alone connector has loaded the new
# connector (MLModelManager.updateModelCache fetches it asynchronously and replies at once, 2.19 and 3.x):
# a probe sent at once can still go through the old connector. Give the refresh a moment first.
SETTLE_SECONDS = 1.0

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint


@dataclass(frozen=True)
class Switch:
    """The model moved from connector ``old`` (None when it was gone) to ``new``."""

    model: str
    old: Optional[str]
    new: str

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def switch(client: "OpenSearch", change: Switch, journal: Journal, options: RunOptions) -> None:
    """Point the model at ``change.new`` (journaled before the request)."""
    timer = StepTimer(options, "switch connector")
    journal.write("switching", **change.to_dict())
    retry_transient(options, model.update, client, change.model, {"connector_id": change.new})
    journal.write("switched", **change.to_dict())
    options.sleep(SETTLE_SECONDS)
    timer.done(f"{change.model}: {change.old} -> {change.new}")


def finish(client: "OpenSearch", change: Switch, journal: Journal, options: RunOptions) -> None:
    """The new connector proved itself: delete the old one."""
    if change.old:
        timer = StepTimer(options, "delete old connector")
        delete_one(client, "connector", change.old, options)
        journal.write("deleted", kind="connector", id=change.old)
        timer.done(change.old)


def revert(client: "OpenSearch", change: Switch, journal: Journal, options: RunOptions,
           exc: BaseException, switched: bool = True) -> None:
    """Switch the model back to the old connector (when it was switched) and delete the new one; notes on ``exc``."""
    try:
        if change.old and switched:
            retry_transient(options, model.update, client, change.model, {"connector_id": change.old})
            journal.write("switched", model=change.model, old=change.new, new=change.old)
            options.sleep(SETTLE_SECONDS)
        delete_one(client, "connector", change.new, options)
        journal.write("deleted", kind="connector", id=change.new)
        done = "switched back: model {} answers through connector {} again" if switched else \
            "not switched: model {} kept answering through connector {}"
        add_note(exc, done.format(change.model, change.old) + f"; the new connector {change.new} is deleted")
    except OpenSearchLLMError as err:
        add_note(exc, f"switching back failed: {err}; finish it with: opensearch-llm rotate, or sweep")


def prove(client: "OpenSearch", blueprint: "Blueprint", connector_id: str, group_id: str, marker: Marker,
          journal: Journal, options: RunOptions) -> None:
    """Prove a new connector before any live traffic goes through it: a throwaway model on it gets the smoke probe.

    A refused key or a broken template fails here, while the live model still answers through its old
    connector, so clients see no failed predict. The throwaway model carries a smoke marker: if this
    process dies, ``sweep`` takes it.
    """
    timer = StepTimer(options, "prove connector")
    body = {"name": f"{blueprint.model.name}-candidate-{marker.run}", "function_name": "remote",
            "model_group_id": group_id, "connector_id": connector_id,
            "description": with_marker("connector candidate", dataclasses.replace(marker, kind=SMOKE, hash=None))}
    candidate = model.register(client, body, deploy=True)
    journal.write("created", kind="model", id=candidate, name=body["name"])
    try:
        model.wait_deployed(client, candidate, blueprint.deploy.timeout, options.polling)
        run_probe(client, blueprint, candidate, options)
    finally:
        delete_one(client, "model", candidate, options)
        journal.write("deleted", kind="model", id=candidate)
    timer.done(f"connector {connector_id} answers the smoke probe")
