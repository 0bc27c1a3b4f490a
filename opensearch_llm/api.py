"""The Python API: everything the CLI does, as typed functions with one argument order.

Every function takes the cluster client first and the blueprint second::

    plan(client, blueprint)            up(client, blueprint)          down(client, blueprint)
    predict(client, blueprint, "hi")   smoke(client, [bp1, bp2])      status(client)
    sweep(client, sweep_filters(older_than="2h"), delete=True)         doctor(client, ["deepseek-chat"])
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Callable, Optional, Sequence, Union

from opensearch_llm.errors import OpenSearchLLMError
# what every command needs is imported here; the lifecycle modules only by the functions that use them, so that
# `predict` does not pay for planning, teardown and consumers (tests/unit/test_import_budget.py)
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.journal import Journal, journal_dirs
from opensearch_llm.lifecycle.messages import assistant_message, load_history  # noqa: F401 - for the CLI
from opensearch_llm.lifecycle.naming import UP, new_run_id
from opensearch_llm.lifecycle.smoke import SmokeResult, SmokeRun  # noqa: F401 - part of the API

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.lifecycle.plan import Plan
    from opensearch_llm.lifecycle.report import TeardownReport
    from opensearch_llm.lifecycle.up_run import UpResult
    from opensearch_llm.bench import BenchReport
    from opensearch_llm.top import TopSnapshot

    from opensearch_llm.blueprint.identity import BlueprintIdentity
    from opensearch_llm.blueprint.model import Blueprint
    from opensearch_llm.lifecycle.conversation import PredictResult
    from opensearch_llm.lifecycle.rotate import Rotated
    from opensearch_llm.lifecycle.settings_run import SettingsResult
    from opensearch_llm.fleet import Outcome
    from opensearch_llm.doctor import Report as DoctorReport
    from opensearch_llm.sweep import Filters, SweepReport


def _preflight(blueprint: "Blueprint", options: RunOptions) -> None:
    """Step 0: ask the provider before the first cluster request (raises PreflightRefused, exit 2)."""
    if options.preflight:
        from opensearch_llm.preflight import preflight

        preflight(blueprint, warn=options.on_warning)


def plan(client: "OpenSearch", blueprint: "Blueprint", *, options: RunOptions = RunOptions(),
         run_id: Optional[str] = None, mode: str = UP, smoke: bool = True) -> "Plan":
    """What ``up`` (or, with ``mode="smoke"``, a smoke run) would do; reads the cluster, changes nothing."""
    from opensearch_llm.lifecycle.up_run import make_plan

    _preflight(blueprint, options)
    return make_plan(client, blueprint, run_id or new_run_id(), mode, smoke, options)


def up(client: "OpenSearch", blueprint: "Blueprint", *, options: RunOptions = RunOptions(), smoke: bool = True,
       run_id: Optional[str] = None, mode: str = UP, replace: bool = False) -> "UpResult":
    """Provision ``blueprint`` (idempotent with stable names) and run its smoke probe.

    With ``ollama.pull: true`` the model is pulled onto the Ollama host first (progress to ``options.on_pull``).
    """
    from opensearch_llm.lifecycle.up_run import run_up

    _preflight(blueprint, options)
    return run_up(client, blueprint, options=options, smoke=smoke, run_id=run_id, mode=mode, replace=replace)


def down(client: "OpenSearch", blueprint: Union["Blueprint", "BlueprintIdentity", None] = None, *,
         run_id: Optional[str] = None, options: RunOptions = RunOptions()) -> TeardownReport:
    """Tear down a blueprint's ``up`` resources, or everything of one run (``run_id``). Needs no secret."""
    from opensearch_llm.lifecycle import removal
    from opensearch_llm.lifecycle.restore import ClusterId
    from opensearch_llm.sweep import caller_token

    directories = journal_dirs(override=options.journal_dir)
    cluster = ClusterId(client)
    owner = caller_token(client, options, cluster)  # another user's runs are refused unless options.all_users
    if run_id:
        return removal.remove_run(client, Journal.find(directories, run_id), options, directories, owner, cluster)
    if blueprint is None:
        raise OpenSearchLLMError("down needs a blueprint or a run id")
    return removal.remove_blueprint(client, blueprint, directories, options, owner, cluster)


def smoke(client: "OpenSearch", blueprints: Sequence["Blueprint"], *,
          options: RunOptions = RunOptions(), jobs: int = 1) -> list[SmokeRun]:
    """The CI command: preflight every blueprint, then for each provision with run-scoped names, probe, tear down
    (``jobs`` blueprints at a time)."""
    from opensearch_llm.lifecycle.smoke_run import smoke_one

    for blueprint in blueprints:
        _preflight(blueprint, options)
    checked = dataclasses.replace(options, preflight=False)
    if jobs <= 1 or len(blueprints) <= 1:
        return [smoke_one(client, bp, checked) for bp in blueprints]
    from opensearch_llm.fleet import for_each

    outcomes = for_each(blueprints, lambda bp, mine: smoke_one(client, bp, mine), checked, lambda bp: bp.name, jobs)
    return [o.result for o in outcomes]  # smoke_one records its own errors: every outcome has a result


def up_many(client: "OpenSearch", blueprints: Sequence["Blueprint"], *, options: RunOptions = RunOptions(),
            smoke: bool = True, replace: bool = False, jobs: int = 4) -> "list[Outcome]":
    """``up`` of several blueprints, ``jobs`` at a time; one outcome each (see :mod:`opensearch_llm.fleet`)."""
    from opensearch_llm.fleet import for_each

    return for_each(blueprints, lambda bp, mine: up(client, bp, options=mine, smoke=smoke, replace=replace),
                    options, lambda bp: bp.name, jobs)


def down_many(client: "OpenSearch", blueprints: Sequence[Union["Blueprint", "BlueprintIdentity"]], *,
              options: RunOptions = RunOptions(), jobs: int = 4) -> "list[Outcome]":
    """``down`` of several blueprints, ``jobs`` at a time; a teardown that leaves anything is an error (exit 3)."""
    from opensearch_llm.fleet import for_each

    def one(bp: Union["Blueprint", "BlueprintIdentity"], mine: RunOptions) -> "TeardownReport":
        report = down(client, bp, options=mine)
        raise_if_left(report, f"down {bp.name}")
        return report

    return for_each(blueprints, one, options, lambda bp: bp.name, jobs)


def plan_many(client: "OpenSearch", blueprints: Sequence["Blueprint"], *, options: RunOptions = RunOptions(),
              jobs: int = 4) -> "list[Outcome]":
    """``plan`` of several blueprints, ``jobs`` at a time; one outcome each."""
    from opensearch_llm.fleet import for_each

    return for_each(blueprints, lambda bp, mine: plan(client, bp, options=mine), options, lambda bp: bp.name, jobs)


def predict(client: "OpenSearch", blueprint: "Blueprint", message: str, *, system: Optional[str] = None,
            history: Sequence[dict] = (), params: Optional[dict] = None, model_id: Optional[str] = None,
            stream: bool = False, on_chunk: Optional[Callable[[str], None]] = None,
            fallbacks: Optional[Sequence["Blueprint"]] = None,
            on_fallback: Callable[[dict], None] = lambda _attempt: None) -> "PredictResult":
    """One message through the blueprint's provisioned model.

    ``history`` is a list of earlier messages (see :mod:`opensearch_llm.lifecycle.messages`); ``model_id``
    skips the lookup; with ``stream`` answer chunks go to ``on_chunk`` where the cluster can stream.
    A refusal that cannot have been billed (429, ML Commons throttling) is retried until the predict timeout;
    anything else is sent once: a timeout is reported, never resent (the provider may bill each call).
    ``fallbacks`` are asked in turn when a model fails without an answer (default: the blueprint's
    ``fallback:`` list, loaded from the process environment; ``()`` for none); ``on_fallback`` hears each
    failure that moves on, and the result's ``blueprint`` and ``attempts`` say who answered and why not the others.
    """
    if fallbacks is None:
        from opensearch_llm.blueprint import load_fallbacks

        fallbacks = load_fallbacks(blueprint) if blueprint.fallback else []
    kwargs = dict(system=system, history=history, params=params, model_id=model_id, stream=stream, on_chunk=on_chunk)
    if not fallbacks:
        from opensearch_llm.lifecycle.conversation import predict as _predict

        return _predict(client, blueprint, message, **kwargs)
    from opensearch_llm.lifecycle.fallback import predict_with_fallback

    return predict_with_fallback(client, blueprint, fallbacks, message, on_fallback, **kwargs)


def status(client: "OpenSearch", *, all_users: bool = False) -> list[dict]:
    """Our resources in the cluster (found by ownership marker), newest first, with run kind and owner.

    Where the cluster has users, only the caller's unless ``all_users``.
    """
    from opensearch_llm.lifecycle import facts as facts_mod
    from opensearch_llm.lifecycle.placement import serving_text
    from opensearch_llm.sweep import caller_token

    owner = caller_token(client, RunOptions(all_users=all_users))
    found = [r for r in facts_mod.all_owned(client) if not owner or r.marker.owner == owner]
    names = {n.id: n.name for n in facts_mod.cluster_nodes(client)[2]} if any(r.kind == "model" for r in found) \
        else {}
    rows = [{"kind": r.kind, "id": r.id, "name": r.name, "run": r.marker.run, "run_kind": r.marker.run_kind(r.name),
             "owner": r.marker.owner, "blueprint": r.marker.blueprint, "created": r.marker.created,
             "state": r.doc.get("model_state", ""), "serving": serving_text(r.doc, names) if r.kind == "model" else ""}
            for r in found]
    return sorted(rows, key=lambda r: (r["created"], r["kind"]), reverse=True)


def problems(client: "OpenSearch", blueprints: Sequence["Blueprint"] = (), *,
             options: RunOptions = RunOptions()) -> list[dict]:
    """What is wrong in the cluster beyond our resources, each with its fix: ghost deployments, settings entries
    of ours that nothing explains and, for ``blueprints``, drift (see :mod:`opensearch_llm.lifecycle.findings`)."""
    from opensearch_llm.lifecycle import findings

    return findings.collect(client, blueprints, journal_dirs(override=options.journal_dir))


def sweep_filters(*, older_than: Optional[str] = None, run: Optional[str] = None, blueprint: Optional[str] = None,
                  include_up: bool = False) -> "Filters":
    """Filters for :func:`sweep` from the CLI's words (``older_than`` like ``2h``; InvalidInputError otherwise)."""
    from opensearch_llm.sweep import Filters as _Filters, parse_age

    return _Filters(older_than=parse_age(older_than) if older_than else None, run=run, blueprint=blueprint,
                    include_up=include_up)


def sweep(client: "OpenSearch", filters: Optional["Filters"] = None, *, delete: bool = False,
          concurrency: int = 4, options: RunOptions = RunOptions(), deadline: float = 300.0) -> "SweepReport":
    """Leftovers found by ownership marker; with ``delete`` remove them within ``deadline`` seconds
    (see :mod:`opensearch_llm.sweep`)."""
    from opensearch_llm.sweep import Filters as _Filters
    from opensearch_llm.sweep import sweep as _sweep

    return _sweep(client, filters or _Filters(), delete=delete, concurrency=concurrency, options=options,
                  deadline=deadline)


def doctor(client: "OpenSearch", blueprints: Sequence[str] = (), *, env_file: Optional[str] = None,
           overrides: Sequence[str] = (), timeout: float = 3.0, preflight: bool = True,
           trust_env_file: bool = False) -> "DoctorReport":
    """The cluster's checks, then each blueprint's and each of its fallbacks' (upstream, preflight, settings) and
    the cluster's features."""
    from opensearch_llm.blueprint.fallbacks import with_fallbacks
    from opensearch_llm.doctor import run

    return run(client, with_fallbacks(list(blueprints)), env_file=env_file, overrides=overrides, timeout=timeout, preflight=preflight,
               trust_env_file=trust_env_file)


def model_id_of(client: "OpenSearch", blueprint: "Blueprint") -> str:
    """The id of the model ``up`` provisioned for ``blueprint`` (NotFoundError naming ``up`` when there is none)."""
    from opensearch_llm.lifecycle.conversation import provisioned_model_id

    return provisioned_model_id(client, blueprint)


def apply_settings(client: "OpenSearch", blueprint: "BlueprintIdentity", *,
                   options: RunOptions = RunOptions()) -> "SettingsResult":
    """An admin applies just the cluster settings ``blueprint`` needs (journaled; see ``restore_settings``)."""
    from opensearch_llm.lifecycle.settings_run import apply_settings as _apply

    return _apply(client, blueprint, options)


def restore_settings(client: "OpenSearch", blueprint: "BlueprintIdentity", *,
                     options: RunOptions = RunOptions()) -> TeardownReport:
    """Undo what ``apply_settings`` wrote for ``blueprint``, keeping entries our connectors still use."""
    from opensearch_llm.lifecycle.settings_run import restore_settings as _restore

    return _restore(client, blueprint, options)


def rotate(client: "OpenSearch", blueprint: "Blueprint", *, options: RunOptions = RunOptions()) -> "Rotated":
    """New credentials (read again from the environment) through a new connector; same model_id, no downtime."""
    from opensearch_llm.lifecycle.rotate import rotate as _rotate

    _preflight(blueprint, options)
    return _rotate(client, blueprint, options)


def bench(client: "OpenSearch", blueprint: "Blueprint", *, concurrency: int, requests: int, message: str = "ping",
          direct: bool = True, on_progress: Callable[[str], None] = lambda _text: None) -> "BenchReport":
    """``requests`` predicts through the provisioned model, ``concurrency`` at a time, then (``direct``) the same
    load straight to the provider: latency percentiles, error mix, retries (see :mod:`opensearch_llm.bench`)."""
    from opensearch_llm.bench import run_bench

    return run_bench(client, blueprint, concurrency=concurrency, requests=requests, message=message, direct=direct,
                     on_progress=on_progress)


def top_snapshot(client: "OpenSearch", *, blueprints: Sequence[str] = ()) -> "TopSnapshot":
    """Every model of ours (of ``blueprints``, by name, when given): state, serving nodes, requests, failures and
    latency percentiles, per model and per node; ``.render(width)`` is the table ``top`` shows."""
    from opensearch_llm.top import snapshot

    return snapshot(client, blueprints)


def render_plan(the_plan: "Plan") -> str:
    """A plan as the terminal shows it."""
    from opensearch_llm.lifecycle.plan import render

    return render(the_plan)


def raise_if_left(report: "TeardownReport", what: str) -> None:
    """LeftoversError (exit 3) when anything is left."""
    from opensearch_llm.lifecycle.removal import raise_if_left as _raise

    _raise(report, what)
