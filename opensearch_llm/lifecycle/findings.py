"""What ``status`` and ``doctor`` report beyond the resources themselves, each with the command that fixes it:

- **ghost deployments**: a model id that a node serves (``GET _plugins/_ml/profile/models``) with no model
  document. No API can undeploy it ("Failed to find model"); only a restart of that node clears it. It happens
  when a model is deleted while a deploy task of it still runs (``down`` now waits for the deploy first).
- **drift**: a provisioned blueprint whose live connector, model or pipelines differ from the blueprint
  (needs the blueprint; see :mod:`lifecycle.drift`).
- **unexplained settings entries**: a trusted-endpoint entry that a run of ours wrote (this machine's journal
  says so) whose run has nothing left in the cluster and no record of ours names: left by a run killed between
  its settings write and its cleanup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from opensearch_llm.lifecycle import ledger
from opensearch_llm.lifecycle.facts import Owned
from opensearch_llm.lifecycle.journal import runs, start_entry
from opensearch_llm.resources import model, profile, settings

if TYPE_CHECKING:
    from pathlib import Path

    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint
    from opensearch_llm.lifecycle.plan import Plan


def problem(kind: str, rid: str, detail: str, fix: str) -> dict:
    """One finding as a ``status`` row."""
    return {"kind": "problem", "problem": kind, "id": rid, "detail": detail, "fix": fix}


def ghosts(client: "OpenSearch") -> list[dict]:
    """Models served by a node with no model document."""
    served: dict[str, list[str]] = {}
    for node_id, models in profile.profile(client).items():
        for model_id in models:
            served.setdefault(model_id, []).append(node_id)
    return [problem("ghost deployment", model_id, f"served on node(s) {', '.join(sorted(nodes))} with no model "
                    "document: no API can undeploy it",
                    f"restart node(s) {', '.join(sorted(nodes))} (rolling, one at a time)")
            for model_id, nodes in sorted(served.items()) if model.get(client, model_id) is None]


def drifted(plans: Sequence["Plan"]) -> list[dict]:
    """The actions of ``plans`` that would repair a hand edit."""
    out = []
    for the_plan in plans:
        for action in the_plan.actions:
            for line in action.detail.get("drift", []):
                out.append(problem("drift", action.resource_id or action.name, line,
                                   f"opensearch-llm up {the_plan.blueprint} (repairs it in place), or "
                                   f"opensearch-llm plan {the_plan.blueprint} to see all"))
    return out


def unexplained(trusted: Sequence[str], listing: Sequence[Owned], directories: Sequence["Path"]) -> list[dict]:
    """Trusted entries this machine's journals say a run of ours added, which no live resource or record explains."""
    live_runs = {r.marker.run for r in listing}
    recorded = {settings.endpoint_regex(o + "/") for g in listing if g.kind == "model_group"
                for o in ledger.record_of(g.marker).trust}
    out = []
    for journal in runs(directories):
        entries = journal.entries()
        if journal.run_id in live_runs or start_entry(entries).get("mode") == "settings":
            continue
        added = {r for e in entries if e.get("event") == "settings" for r in e.get("change", {}).get("add_regexes", [])}
        for regex in sorted(added & set(trusted) - recorded):
            out.append(problem("unexplained settings entry", regex, f"added by run {journal.run_id}, which has "
                               "nothing left in the cluster and no record of ours names",
                               f"remove {regex} from {settings.TRUSTED} (nothing of ours uses it)"))
    return out


def collect(client: "OpenSearch", blueprints: Sequence["Blueprint"], directories: Sequence["Path"]) -> list[dict]:
    """Every finding: ghosts, unexplained settings entries and, for ``blueprints``, drift."""
    from opensearch_llm.lifecycle import facts, plan
    from opensearch_llm.lifecycle.naming import names_for, new_run_id

    found = ghosts(client)
    found += unexplained(settings.read(client).trusted, facts.all_owned(client, facts.MODEL_KINDS), directories)
    plans = []
    for bp in blueprints:
        names = names_for(bp)
        plans.append(plan.build(bp, facts.gather(client, bp.name, names), names, new_run_id(), smoke=False))
    return found + drifted(plans)
