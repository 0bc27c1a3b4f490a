"""sweep: find and delete leftovers by ownership marker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.options import all_users_option, connection_options, journal_option, make_client, with_run_options
from opensearch_llm.cli.output import emit_json, json_option, progress

if TYPE_CHECKING:
    from opensearch_llm.api import RunOptions


@click.command(help="""List leftovers of this toolkit (found by ownership marker); delete them with --yes.

Leftovers are the resources of smoke runs and of `up` runs that failed or never finished (their journal
says so); `up` deployments meant to stay are taken only with --include-up (or when named with --run).
Resources without our marker are never touched. Exit 3 if anything remains after deleting, or if the
cluster could not be read; the whole sweep ends within --deadline.

\b
Example:
  opensearch-llm sweep --older-than 2h
  opensearch-llm sweep --run 20261121T120501-3fa2c1 --yes
  opensearch-llm sweep --include-up --yes
""")
@click.option("--older-than", default=None, help="Only resources created longer ago than this (30m, 2h, 7d).")
@click.option("--run", "run_id", default=None, help="Only this run's resources.")
@click.option("--blueprint", default=None, help="Only this blueprint's resources.")
@all_users_option
@click.option("--include-up", is_flag=True, help="Also take `up` deployments that finished (meant to stay).")
@click.option("--yes", is_flag=True, help="Delete what was found (default: list only).")
@click.option("--deadline", type=click.FloatRange(min=1), default=300, show_default=True,
              help="Seconds the whole sweep may take; what is not deleted by then is reported.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@journal_option
@connection_options
@json_option
@with_run_options
def sweep(older_than: Optional[str], run_id: Optional[str], blueprint: Optional[str], include_up: bool, yes: bool,
          deadline: float, concurrency: int, as_json: bool, options: "RunOptions", **conn: Any) -> None:
    """Sweep leftovers."""
    from opensearch_llm.errors import LeftoversError
    from opensearch_llm import api

    filters = api.sweep_filters(older_than=older_than, run=run_id, blueprint=blueprint, include_up=include_up)
    report = api.sweep(make_client(**conn), filters, delete=yes, concurrency=concurrency, options=options,
                       deadline=deadline)
    if as_json:
        emit_json(report.to_dict())
    else:
        verb = "deleted" if yes else "found"
        rows = report.deleted if yes else report.found
        for r in rows:
            click.echo(f"{verb}  {r['created']}  {r['run']:<24} {r['run_kind']:<5} {r['blueprint']:<20} "
                       f"{r['kind']:<12} {r['id']}")
        click.echo(f"{len(report.found)} found, {len(report.deleted)} deleted, {len(report.leftovers)} left")
        if report.kept:
            progress(f"note: {report.kept} resource(s) of finished `up` deployments left alone (--include-up takes them)")
        if report.found and not yes:
            progress("nothing deleted: add --yes to delete these")
        for note in report.notes:
            progress(f"note: {note}")
    if report.leftovers or report.errors:
        reasons = "; ".join(report.errors[:3]) or "still listed after deleting"
        raise LeftoversError(f"sweep left {len(report.leftovers)} resource(s): {reasons}",
                             leftovers=report.leftovers, errors=report.errors)
