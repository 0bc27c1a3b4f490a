"""The Python API: everything the CLI does, as functions with typed results."""

from __future__ import annotations

import time

from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.lifecycle import facts as facts_mod
from opensearch_llm.lifecycle import plan as plan_mod
from opensearch_llm.lifecycle.apply import Provisioned, apply
from opensearch_llm.lifecycle.events import RunOptions, add_note
from opensearch_llm.lifecycle.journal import Journal, journal_dir
from opensearch_llm.lifecycle.naming import names_for, new_run_id
from opensearch_llm.lifecycle.prepare import prepare
from opensearch_llm.lifecycle.smoke import SmokeResult, run_probe
from opensearch_llm.lifecycle.teardown import TeardownReport
from opensearch_llm.lifecycle import removal


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
                "smoke": self.smoke.to_dict() if self.smoke else None, "plan": self.plan.to_dict()}


def _journal(options: RunOptions, run_id: str) -> Journal:
    return Journal.open(journal_dir(override=options.journal_dir), run_id)


def plan(blueprint: Any, client: Any, *, run_id: Optional[str] = None, mode: str = "up",
         smoke: bool = True) -> plan_mod.Plan:
    """What ``up`` (or, with ``mode="smoke"``, a smoke run) would do; reads the cluster, changes nothing."""
    run_id = run_id or new_run_id()
    names = names_for(blueprint, run_id if mode == "smoke" else None)
    found = facts_mod.gather(client, blueprint.name, names)
    return plan_mod.build(blueprint, found, names, run_id, mode=mode, smoke=smoke)


def up(blueprint: Any, client: Any, *, options: RunOptions = RunOptions(), smoke: bool = True,
       run_id: Optional[str] = None, mode: str = "up") -> UpResult:
    """Provision ``blueprint`` (idempotent with stable names) and run its smoke probe.

    With ``ollama.pull: true`` the model is pulled onto the Ollama host first (progress to ``options.on_pull``).
    """
    run_id = run_id or new_run_id()
    options.on_run(run_id)
    prepare(blueprint, options)  # ollama.pull: the model is on the Ollama host before anything is planned
    the_plan = plan(blueprint, client, run_id=run_id, mode=mode, smoke=smoke)
    journal = _journal(options, the_plan.run_id)
    provisioned = apply(client, blueprint, the_plan, journal, options)
    result = UpResult(the_plan, provisioned)
    if smoke:
        try:
            result.smoke = run_probe(client, blueprint, provisioned.ids["model"], options)
        except BaseException as exc:
            if not options.keep_on_failure and provisioned.created:
                report = removal.remove_run(client, journal, options)
                add_note(exc, "rolled back this run: " + removal.summary(report))
            raise
    journal.write("done", ok=True)
    return result


def down(client: Any, blueprint: Any = None, *, run_id: Optional[str] = None,
         options: RunOptions = RunOptions()) -> TeardownReport:
    """Tear down a blueprint's ``up`` resources, or everything of one run (``run_id``)."""
    if run_id:
        return removal.remove_run(client, _journal(options, run_id), options)
    if blueprint is None:
        raise OpenSearchLLMError("down needs a blueprint or a run id")
    return removal.remove_blueprint(client, blueprint, journal_dir(override=options.journal_dir), options)


@dataclass
class SmokeRun:
    """One blueprint's smoke run: up → probe → down with run-scoped names."""

    blueprint: str
    run_id: str
    ok: bool
    seconds: float
    smoke: Optional[SmokeResult] = None
    error: str = ""
    teardown: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"blueprint": self.blueprint, "run_id": self.run_id, "ok": self.ok, "seconds": self.seconds,
                "smoke": self.smoke.to_dict() if self.smoke else None, "error": self.error,
                "teardown": self.teardown}


def smoke(blueprints: Sequence[Any], client: Any, *, options: RunOptions = RunOptions()) -> list[SmokeRun]:
    """The CI command: for each blueprint, provision with run-scoped names, probe, tear down."""
    return [_smoke_one(client, bp, options) for bp in blueprints]


def _smoke_one(client: Any, blueprint: Any, options: RunOptions) -> SmokeRun:
    """up → probe → down with run-scoped names; the teardown always runs."""
    run_id = new_run_id()
    started = time.perf_counter()
    result = SmokeRun(blueprint=blueprint.name, run_id=run_id, ok=False, seconds=0.0)
    try:
        up_result = up(blueprint, client, options=options, run_id=run_id, mode="smoke")
        result.smoke, result.ok = up_result.smoke, True
    except Exception as exc:  # noqa: BLE001 - recorded per blueprint, the next one still runs
        result.error = str(exc)
    finally:
        report = removal.remove_run(client, _journal(options, run_id), options)
        result.teardown = report.to_dict()
        result.seconds = time.perf_counter() - started
        if not report.clean:
            result.ok = False
    return result


def predict(blueprint: Any, client: Any, message: str, *, system: Optional[str] = None,
            history: Sequence[dict] = (), params: Optional[dict] = None, **kwargs: Any) -> Any:
    """One message through the blueprint's provisioned model; returns a PredictResult.

    ``history`` is a list of earlier messages (see :mod:`opensearch_llm.lifecycle.messages`);
    ``stream=True, on_chunk=callable`` streams where the cluster can (``model_id=`` skips the lookup).
    """
    from opensearch_llm.lifecycle.conversation import predict as _predict

    return _predict(client, blueprint, message, system=system, history=history, params=params, **kwargs)


def status(client: Any) -> list[dict]:
    """Our resources in the cluster (found by ownership marker), newest first."""
    rows = [{"kind": r.kind, "id": r.id, "name": r.name, "run": r.marker.run, "blueprint": r.marker.blueprint,
             "created": r.marker.created, "state": r.doc.get("model_state", "")}
            for r in facts_mod.all_owned(client)]
    return sorted(rows, key=lambda r: (r["created"], r["kind"]), reverse=True)
