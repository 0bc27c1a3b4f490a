"""The steps of ``up`` between the preflight and the smoke probe: plan (after any other run of the blueprint has
finished), then apply, once more with a new run id when another run created its group at the same moment."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import BusyError, InvalidInputError, OpenSearchLLMError
from opensearch_llm.lifecycle import facts as facts_mod
from opensearch_llm.lifecycle import lease
from opensearch_llm.lifecycle import plan as plan_mod
from opensearch_llm.lifecycle.apply import apply
from opensearch_llm.lifecycle.consumers import replace_message, with_consumers
from opensearch_llm.lifecycle.contend import Contended, wait_while_busy
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.journal import Journal, journal_dir, journal_dirs, still_running
from opensearch_llm.lifecycle.naming import SMOKE, UP, Marker, names_for, new_run_id, now_utc
from opensearch_llm.lifecycle.provisioned import Provisioned
from opensearch_llm.lifecycle import removal
from opensearch_llm.lifecycle.apply import end_lease
from opensearch_llm.lifecycle.consumer_smoke import run_consumer_probes
from opensearch_llm.lifecycle.events import add_note
from opensearch_llm.lifecycle.prepare import prepare
from opensearch_llm.lifecycle.rollback import conclude
from opensearch_llm.lifecycle.smoke import SmokeResult, run_probe
from opensearch_llm.lifecycle.switch import finish, revert
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint


@dataclass
class UpResult:
    """What ``up`` did: the plan, the provisioned ids and the smoke outcome."""

    plan: plan_mod.Plan
    provisioned: Provisioned
    smoke: Optional[SmokeResult] = None

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"blueprint": self.plan.blueprint, "run_id": self.plan.run_id, "changed": self.provisioned.changed,
                "ids": self.provisioned.ids, "model_state": self.provisioned.model_state,
                "serving": self.provisioned.serving, "smoke": self.smoke.to_dict() if self.smoke else None,
                "plan": self.plan.to_dict()}


def journal_of(options: RunOptions, run_id: str) -> Journal:
    """The journal of run ``run_id`` wherever this machine keeps journals (an empty one when there is none)."""
    return Journal.find(journal_dirs(override=options.journal_dir), run_id)


def make_plan(client: "OpenSearch", blueprint: "Blueprint", run_id: str, mode: str, smoke: bool,
          options: RunOptions) -> plan_mod.Plan:
    names = names_for(blueprint, run_id if mode == SMOKE else None)
    found = facts_mod.gather(client, blueprint.name, names)
    the_plan = plan_mod.build(blueprint, found, names, run_id, mode=mode, smoke=smoke)
    the_plan = dataclasses.replace(the_plan, lease=lease.tokens(lease.duration(deploy_timeout(blueprint, options))))
    return with_consumers(client, the_plan) if the_plan.replaces else the_plan


def deploy_timeout(blueprint: "Blueprint", options: RunOptions) -> float:
    return options.deploy_timeout or blueprint.deploy.timeout


def finished_plan(client: "OpenSearch", blueprint: "Blueprint", the_plan: plan_mod.Plan, smoke: bool,
                   options: RunOptions) -> plan_mod.Plan:
    """``the_plan``, or, when another run is provisioning the same blueprint, a plan made after it finished."""
    directories = journal_dirs(override=options.journal_dir)

    def dead(run: str) -> bool:  # this machine's journal says that run's process is gone
        entries = Journal.find(directories, run).entries()
        return bool(entries) and not still_running(entries)

    def waiting(busy: dict) -> None:
        options.on_warning(f"{blueprint.name}: waiting for run {busy['run']} ({busy['by']}, since {busy['since']}) "
                           "to finish provisioning it")

    return wait_while_busy(the_plan, lambda: make_plan(client, blueprint, the_plan.run_id, the_plan.mode, smoke, options),
                           deploy_timeout(blueprint, options) + 60, options.sleep, dead, waiting)


CONTENDED_ATTEMPTS = 3


def provision(client: "OpenSearch", blueprint: "Blueprint", run_id: str, mode: str, smoke: bool, replace: bool,
               options: RunOptions) -> tuple[Journal, plan_mod.Plan, Provisioned]:
    """Plan (after any other run of this blueprint has finished) and apply; a run that created its model group a
    moment after another run's yields, waits for that one and plans again with a new run id."""
    for attempt in range(1, CONTENDED_ATTEMPTS + 1):
        the_plan = finished_plan(client, blueprint, make_plan(client, blueprint, run_id, mode, smoke, options),
                                 smoke, options)
        if the_plan.replaces and not replace:
            raise InvalidInputError(f"{blueprint.name}: {replace_message(the_plan)}",
                                    hint="pass --replace to accept a new model_id, or undo the change")
        if the_plan.blocked:  # nothing is changed that the caller could not finish
            raise InvalidInputError(f"{blueprint.name}: {the_plan.blocked[0]}",
                                    hint="ask an admin to run: opensearch-llm settings " + blueprint.source)
        journal = Journal.open(journal_dir(override=options.journal_dir), the_plan.run_id)
        try:
            return journal, the_plan, apply(client, blueprint, the_plan, journal, options)
        except Contended as lost:
            if attempt == CONTENDED_ATTEMPTS:
                raise BusyError(f"{blueprint.name}: {lost}, {attempt} times in a row", hint=(
                    "a model group of that name that you cannot see (another user's?) blocks it: choose another "
                    "name with --set model_group.name=NAME")) from lost
            options.on_warning(f"{blueprint.name}: {lost}; this run removed its own and waits for that one")
            run_id = new_run_id()
            options.on_run(run_id)
    raise AssertionError("unreachable")


def smoke_marker(the_plan: plan_mod.Plan) -> Marker:
    """The marker of what a smoke probe creates for a moment (conversation memories)."""
    return Marker(the_plan.run_id, the_plan.blueprint, now_utc(), None, SMOKE, the_plan.owner)


def run_up(client: "OpenSearch", blueprint: "Blueprint", *, options: RunOptions, smoke: bool = True,
           run_id: Optional[str] = None, mode: str = UP, replace: bool = False) -> UpResult:
    """``up`` after the preflight: plan, apply, probe (rolling back on a failed probe), drop the lease."""
    run_id = run_id or new_run_id()
    options.on_run(run_id)
    prepare(blueprint, options)  # ollama.pull: the model is on the Ollama host before anything is planned
    journal, the_plan, provisioned = provision(client, blueprint, run_id, mode, smoke, replace, options)
    result = UpResult(the_plan, provisioned)
    if smoke:
        result.smoke = _probe(client, blueprint, journal, the_plan, provisioned, options)
    if provisioned.switched:
        finish(client, provisioned.switched, journal, options)
    if mode == UP:
        try:
            end_lease(client, provisioned)
        except OpenSearchLLMError as exc:  # the model serves: a lease left on ends by itself
            options.on_warning(f"{blueprint.name}: could not mark run {the_plan.run_id} finished ({exc}); other hosts "
                               "treat it as in progress until its lease ends")
    journal.write("done", ok=True)
    return result

def _probe(client: "OpenSearch", blueprint: "Blueprint", journal: Journal, the_plan: plan_mod.Plan,
           provisioned: Provisioned, options: RunOptions) -> SmokeResult:
    """The smoke probe (and the consumers' probes); a failure rolls the run back unless ``keep_on_failure``."""
    try:
        serving = provisioned.serving if not provisioned.serving.startswith("1/1 ") else ""  # a cluster: say where
        result = run_probe(client, blueprint, provisioned.ids["model"], options, serving)
        if blueprint.consumers:
            result.checks = run_consumer_probes(client, blueprint, the_plan.names, provisioned.ids,
                                                smoke_marker(the_plan), journal, options)
        return result
    except BaseException as exc:
        journal.write("failed", error=mask_text(str(exc))[:500])
        if options.keep_on_failure:
            add_note(exc, f"kept on failure; remove later with: opensearch-llm down --run {the_plan.run_id}")
        else:
            if provisioned.switched:  # the live model keeps answering through its old connector
                revert(client, provisioned.switched, journal, options, exc)
            if provisioned.created:
                _roll_back(client, journal, options, exc)
        raise


def _roll_back(client: "OpenSearch", journal: Journal, options: RunOptions, exc: BaseException) -> None:
    """Remove the run after a failed smoke probe; LeftoversError (exit 3) when something stays."""
    conclude(exc, removal.remove_run(client, journal, options, journal_dirs(override=options.journal_dir)),
             journal.run_id)
