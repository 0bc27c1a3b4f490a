"""validate, schema, plan, up, down, status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.options import (
    all_users_option, blueprint_options, connection_options, journal_option, load, make_client, preflight_option, with_run_options, run_options,
)
from opensearch_llm.cli.fleet_output import expand, finish, jobs_option
from opensearch_llm.cli.output import emit_json, json_option, progress

if TYPE_CHECKING:
    from opensearch_llm.api import RunOptions

CHANGES_PENDING = 4  # plan --exit-code: up would change something (documented in the README's exit codes)


@click.command(help="""Check blueprint files and the environment; no cluster call. Exit 2 on any problem.

\b
Example:
  opensearch-llm validate connectors/*.yaml
""")
@click.argument("blueprints", nargs=-1, required=True, type=click.Path())
@blueprint_options
@json_option
def validate(blueprints: tuple, env_file: Optional[str], overrides: tuple, as_json: bool) -> None:
    """Validate blueprints."""
    loaded = load(expand(blueprints), env_file, overrides)
    if as_json:
        emit_json({"valid": [bp.source for bp in loaded]})
    else:
        for bp in loaded:
            click.echo(f"ok  {bp.source} ({bp.name})")


@click.command(help="""Print the blueprint JSON Schema.

\b
Example:
  opensearch-llm schema > blueprint.schema.json
""")
def schema() -> None:
    """Print the JSON Schema."""
    from opensearch_llm.blueprint.schema import schema_json

    click.echo(schema_json(), nl=False)


@click.command(help="""Show what `up` would do: creates, no-ops with reasons, replaces, settings diff (for several
blueprints, -j at a time).

First, before any cluster request, the preflight asks the provider whether the key is accepted and the model
offered (exit 2 if not; an unreachable provider only warns).

\b
Example:
  opensearch-llm plan connectors/deepseek-chat.yaml
""")
@click.argument("blueprints", nargs=-1, required=True, type=click.Path())
@click.option("--exit-code", "exit_code", is_flag=True,
              help=f"Exit {CHANGES_PENDING} when up would change anything (drift included), 0 when not: a CI drift check.")
@preflight_option
@jobs_option
@blueprint_options
@connection_options
@json_option
@click.pass_context
def plan(ctx: click.Context, blueprints: tuple, exit_code: bool, no_preflight: bool, jobs: int,
         env_file: Optional[str], overrides: tuple, as_json: bool, **conn: Any) -> None:
    """Plan blueprints."""
    from opensearch_llm import api

    from opensearch_llm.cli.options import warning_printer

    paths = expand(blueprints)
    options = api.RunOptions(preflight=not no_preflight, on_warning=warning_printer())
    if len(paths) > 1:
        outcomes = api.plan_many(make_client(**conn), load(paths, env_file, overrides), options=options, jobs=jobs)
        worst = finish(outcomes, "plan", as_json, lambda p: click.echo(api.render_plan(p)))
        pending = exit_code and any(o.result is not None and o.result.changes for o in outcomes)
        ctx.exit(worst or (CHANGES_PENDING if pending else 0))
    bp = load(paths, env_file, overrides)[0]
    the_plan = api.plan(make_client(**conn), bp, options=options)
    if as_json:
        emit_json(the_plan.to_dict())
    else:
        click.echo(api.render_plan(the_plan))
    if exit_code and the_plan.changes:
        ctx.exit(CHANGES_PENDING)


@click.command(help="""Provision blueprints (idempotent) and smoke-test them; several run -j at a time, with one
summary table (--json: a list) and the worst exit code.

First, before any cluster request, the preflight asks the provider whether the key is accepted and the model
offered (exit 2 if not; an unreachable provider only warns).

\b
Example:
  DEEPSEEK_API_KEY=sk-... opensearch-llm up connectors/deepseek-chat.yaml
  opensearch-llm up connectors/ollama-chat.yaml --set ollama.pull=true
  opensearch-llm up my-blueprints/ -j 4
""")
@click.argument("blueprints", nargs=-1, required=True, type=click.Path())
@click.option("--no-smoke", is_flag=True, help="Skip the smoke probe.")
@click.option("--keep-on-failure", is_flag=True, help="Do not roll back what this run created when it fails.")
@click.option("--replace", is_flag=True,
              help="Accept replacing a live model (a new model_id) where ML Commons cannot change it in place.")
@jobs_option
@run_options
@click.pass_context
def up(ctx: click.Context, blueprints: tuple, no_smoke: bool, replace: bool, jobs: int, env_file: Optional[str],
       overrides: tuple, as_json: bool, options: "RunOptions", **conn: Any) -> None:
    """Provision blueprints."""
    from opensearch_llm import api

    paths = expand(blueprints)
    client = make_client(**conn)
    if len(paths) > 1:
        outcomes = api.up_many(client, load(paths, env_file, overrides), options=options, smoke=not no_smoke,
                               replace=replace, jobs=jobs)
        ctx.exit(finish(outcomes, "up", as_json))
    bp = load(paths, env_file, overrides)[0]
    progress(f"up {bp.name}")
    result = api.up(client, bp, options=options, smoke=not no_smoke, replace=replace)
    if as_json:
        emit_json(result.to_dict())
        return
    ids = result.provisioned.ids
    click.echo(f"{bp.name}: model {ids.get('model')} {result.provisioned.model_state} "
               f"(connector {ids.get('connector')}, model group {ids.get('model_group')})"
               + ("" if result.provisioned.changed else " - nothing changed"))
    if result.provisioned.switched:
        change = result.provisioned.switched
        click.echo(f"switched in place: connector {change.old} -> {change.new} (same model_id)")
    if result.provisioned.updated:
        click.echo(f"updated in place: {', '.join(result.provisioned.updated)}")
    if result.smoke:
        click.echo(f"smoke ok in {result.smoke.seconds * 1000:.0f} ms: {result.smoke.answer!r}")


@click.command(help="""Tear down blueprints' resources (several run -j at a time), or everything one run created.
Exit 3 if anything is left.

\b
Example:
  opensearch-llm down connectors/deepseek-chat.yaml
  opensearch-llm down --run 20261121T120501-3fa2c1
""")
@click.argument("blueprints", nargs=-1, type=click.Path())
@click.option("--run", "run_id", default=None, help="Remove what this run created (from its journal or marker).")
@all_users_option
@blueprint_options
@journal_option
@connection_options
@json_option
@jobs_option
@with_run_options
@click.pass_context
def down(ctx: click.Context, blueprints: tuple, run_id: Optional[str], jobs: int, env_file: Optional[str],
         overrides: tuple, as_json: bool, options: "RunOptions", **conn: Any) -> None:
    """Tear down."""
    from opensearch_llm import api
    from opensearch_llm.blueprint.identity import load_identity

    paths = expand(blueprints)
    if bool(paths) == bool(run_id):
        raise click.UsageError("give BLUEPRINT(s) or --run RUN_ID")
    if len(paths) > 1:
        identities = [load_identity(p, env_file=env_file, overrides=overrides) for p in paths]
        ctx.exit(finish(api.down_many(make_client(**conn), identities, options=options, jobs=jobs), "down", as_json))
    bp = load_identity(paths[0], env_file=env_file, overrides=overrides) if paths else None
    report = api.down(make_client(**conn), bp, run_id=run_id, options=options)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.summary())
        for note in report.notes:
            progress(f"note: {note}")
    api.raise_if_left(report, "down")


@click.command(help="""List our resources in the cluster, by run and blueprint, and what is wrong: ghost
deployments (served with no model document), settings entries of ours that nothing explains and, for the
BLUEPRINTs given, drift (a hand edit of the connector, model or pipelines). Each problem comes with its fix;
any problem exits 1.

\b
Example:
  opensearch-llm status --json
  opensearch-llm status deepseek-chat
""")
@click.argument("blueprints", nargs=-1, type=click.Path())
@all_users_option
@blueprint_options
@connection_options
@json_option
def status(blueprints: tuple, all_users: bool, as_json: bool, env_file: Optional[str], overrides: tuple,
           **conn: Any) -> None:
    """Show our resources."""
    from opensearch_llm import api
    from opensearch_llm.errors import OpenSearchLLMError

    client = make_client(**conn)
    rows = api.status(client, all_users=all_users)
    found = api.problems(client, load(expand(blueprints), env_file, overrides) if blueprints else ())
    if as_json:
        emit_json(rows + found)
    else:
        _show_status(rows, found)
    if found:
        raise OpenSearchLLMError(f"{len(found)} problem(s): see above for each and its fix")


def _show_status(rows: list, found: list) -> None:
    if not rows:
        click.echo("no opensearch-llm resources in this cluster")
    for r in rows:
        owner = f" owner:{r['owner']}" if r["owner"] else ""
        serving = f" on {r['serving']}" if r.get("serving") else ""
        click.echo(f"{r['created']}  {r['run']:<24} {r['run_kind']:<5} {r['blueprint']:<20} {r['kind']:<15} "
                   f"{r['id']}  {r['name']} {r['state']}{serving}{owner}")
    for f in found:
        click.echo(f"PROBLEM  {f['problem']}: {f['id']}: {f['detail']}\n         fix: {f['fix']}")


@click.command(help="""The whole lifecycle on embedded defaults: a local OpenSearch node, the offline
DeepSeek stand-in, then up → predict → down, printing each step and its time.

\b
Example:
  opensearch-llm demo
  opensearch-llm demo --version 3 --keep-node
""")
@click.option("--version", "version", default=None, help="OpenSearch line for the local node: 2.19 (default) or 3.")
@click.option("--message", default="Hello from opensearch-llm", show_default=True)
@click.option("--keep-node", is_flag=True, help="Leave the local node running afterwards.")
@click.option("--name", default="default", show_default=True, help="Local node instance (reused if running).")
@json_option
def demo(version: Optional[str], message: str, keep_node: bool, name: str, as_json: bool) -> None:
    """Run the demo."""
    from opensearch_llm.cli.options import step_printer
    from opensearch_llm.demo import run_demo

    report = run_demo(version, message, keep_node, say=progress, on_step=step_printer(), name=name)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(f"answer: {report.answer}")
        click.echo("Point it at the real DeepSeek API: export DEEPSEEK_API_KEY=sk-...; "
                   "opensearch-llm up deepseek-chat")


@click.command(help="""Apply (or with --restore undo) just the cluster settings a blueprint needs: the trusted
endpoint regex and private-IP access. For admins: users with only ml_full_access then provision it without
touching settings. Needs cluster:admin/settings/update.

\b
Example:
  opensearch-llm settings deepseek-chat
  opensearch-llm settings deepseek-chat --restore
""")
@click.argument("blueprint", type=click.Path())
@click.option("--restore", is_flag=True, help="Undo what `settings` applied (entries our connectors use stay).")
@blueprint_options
@journal_option
@connection_options
@json_option
@with_run_options
def settings(blueprint: str, restore: bool, env_file: Optional[str], overrides: tuple, as_json: bool,
             options: "RunOptions", **conn: Any) -> None:
    """Apply or restore a blueprint's cluster settings."""
    from opensearch_llm import api
    from opensearch_llm.blueprint.identity import load_identity

    identity = load_identity(blueprint, env_file=env_file, overrides=overrides)
    client = make_client(**conn)
    if not restore:
        result = api.apply_settings(client, identity, options=options)
        if as_json:
            emit_json(result.to_dict())
        else:
            click.echo(f"{result.blueprint}: settings applied (run {result.run_id})" if result.changed
                       else f"{result.blueprint}: the settings already allow it; nothing changed")
        return
    report = api.restore_settings(client, identity, options=options)
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo("; ".join(report.notes) or "settings restored")
    api.raise_if_left(report, "settings --restore")
