"""Two ``up`` runs of one blueprint at the same moment (two pipelines, two hosts) end with one set of resources.

ML Commons before 3.9 has no caller-chosen ids and no compare-and-set that an ML user may use, so the model
group, created first, is the claim: right after creating it a run searches for same-named groups of ours.
ML Commons creates model groups with an immediate refresh, so of two runs that create at once at least
one sees the other's group; the cluster's indexing order (primary term, sequence number) decides, the same
for both. The later run deletes its group (it has written nothing else yet) and raises :class:`Contended`;
``up`` then waits, like an ``up`` that finds another run's group without a deployed model, until that run
finishes (:func:`wait_while_busy`), and reuses what it made. A run that does not finish within the wait
is reported with who started it and since when (:class:`BusyError`).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Callable

from opensearch_llm.errors import BusyError, ClusterError, OpenSearchLLMError
from opensearch_llm.lifecycle.facts import owned
from opensearch_llm.lifecycle.naming import SETTINGS
from opensearch_llm.resources import model_group

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.lifecycle.plan import Plan


class Contended(OpenSearchLLMError):
    """This run created its model group a moment after another run of the same blueprint: it yields."""


TAKEN = re.compile(r"already being used by a model group with ID: ?([\w-]+)")


def taken(exc: ClusterError, name: str) -> None:
    """Raise :class:`Contended` when ML Commons refused our group because the name was just taken (3.x, and 2.x
    with model access control, check names; another run of ours got there first)."""
    found = TAKEN.search(exc.message or "") if exc.status == 400 else None
    if found:
        raise Contended(f"another run created model group {name!r} first (id {found.group(1)})") from exc


def contend(client: "OpenSearch", blueprint: str, name: str, group_id: str, run_id: str) -> None:
    """Raise :class:`Contended` when a same-named group of ours for ``blueprint`` was indexed before ours."""
    groups = [g for g in owned("model_group", model_group.marked_or_named(client, name))
              if g.name == name and g.marker.blueprint == blueprint and g.marker.kind != SETTINGS]
    mine = next((g for g in groups if g.id == group_id), None)
    if mine is None or "_seq" not in mine.doc:
        return
    older = [g for g in groups if g.marker.run != run_id and tuple(g.doc.get("_seq", ())) < tuple(mine.doc["_seq"])]
    if older:
        winner = min(older, key=lambda g: tuple(g.doc["_seq"]))
        raise Contended(f"another run ({winner.marker.run}) created model group {name!r} first")


def wait_while_busy(plan: "Plan", again: Callable[[], "Plan"], timeout: float,
                    sleep: Callable[[float], None] = time.sleep, dead: Callable[[str], bool] = lambda _run: False,
                    on_wait: Callable[[dict], None] = lambda _busy: None) -> "Plan":
    """``plan``, or, while another run holds this blueprint unfinished, a new plan once it has finished.

    ``again`` plans anew; ``dead(run)`` is True when this machine knows that run's process is gone.
    """
    deadline = time.monotonic() + timeout
    pause = 0.3
    while plan.busy and not dead(plan.busy["run"]):
        if time.monotonic() >= deadline:
            busy = plan.busy
            raise BusyError(f"another run is provisioning {plan.blueprint} since {busy['since']}, by {busy['by']} "
                            f"(run {busy['run']}); it did not finish within {timeout:.0f} s", run=busy["run"],
                            hint=f"run up again when it has finished; if it died, its lease ends at {busy['until']} "
                                 f"(then sweep takes it), or remove it now with: opensearch-llm down {plan.blueprint}")
        on_wait(plan.busy)
        sleep(pause)
        pause = min(pause * 1.5, 2.0)
        plan = again()
    return plan
