"""sweep: find and delete leftovers by ownership marker."""

from __future__ import annotations

from typing import Any, Optional

import click

from opensearch_llm.cli.options import connection_options, journal_option, make_client, with_run_options
from opensearch_llm.cli.output import emit_json, json_option, progress


@click.command(help="""List leftovers of this toolkit (found by ownership marker); delete them with --yes.
Resources without our marker are never touched. Exit 3 if anything remains after deleting.

\b
Example:
  opensearch-llm sweep --older-than 2h
  opensearch-llm sweep --run 20261121T120501-3fa2c1 --yes
""")
@click.option("--older-than", default=None, help="Only resources created longer ago than this (30m, 2h, 7d).")
@click.option("--run", "run_id", default=None, help="Only this run's resources.")
@click.option("--blueprint", default=None, help="Only this blueprint's resources.")
@click.option("--yes", is_flag=True, help="Delete what was found (default: list only).")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@journal_option
@connection_options
@json_option
@with_run_options
def sweep(older_than: Optional[str], run_id: Optional[str], blueprint: Optional[str], yes: bool,
          concurrency: int, as_json: bool, options: Any, **conn: Any) -> None:
    """Sweep leftovers."""
    from opensearch_llm.errors import LeftoversError
    from opensearch_llm.sweep import Filters, parse_age, sweep as run_sweep

    filters = Filters(older_than=parse_age(older_than) if older_than else None, run=run_id, blueprint=blueprint)
    report = run_sweep(make_client(**conn), filters, delete=yes, concurrency=concurrency, options=options)
    if as_json:
        emit_json(report.to_dict())
    else:
        verb = "deleted" if yes else "found"
        rows = report.deleted if yes else report.found
        for r in rows:
            click.echo(f"{verb}  {r['created']}  {r['run']:<24} {r['blueprint']:<20} {r['kind']:<12} {r['id']}")
        click.echo(f"{len(report.found)} found, {len(report.deleted)} deleted, {len(report.leftovers)} left")
        if report.found and not yes:
            progress("nothing deleted: add --yes to delete these")
        for note in report.notes:
            progress(f"note: {note}")
    if report.leftovers or report.errors:
        raise LeftoversError(f"sweep left {len(report.leftovers)} resource(s): {report.errors[:3]}",
                             leftovers=report.leftovers, errors=report.errors)
