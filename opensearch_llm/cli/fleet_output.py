"""Several blueprints in one command (``up``, ``down``, ``plan``, ``smoke`` with ``-j``): the option and the output."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import click

from opensearch_llm.cli.output import emit_json

jobs_option = click.option("-j", "--jobs", type=click.IntRange(min=1), default=4, show_default=True,
                           help="With several blueprints (files, names or directories): how many run at once.")


def expand(blueprints: Sequence[str]) -> list[str]:
    """The blueprint arguments, each directory replaced by its ``*.yaml`` files."""
    from opensearch_llm.fleet import expand as _expand

    return _expand(blueprints)


def finish(outcomes: Sequence[Any], verb: str, as_json: bool,
           show: Callable[[Any], None] = lambda _result: None) -> int:
    """Print one table (or ``--json``: a list), each error in full on stderr; return the worst exit code."""
    from opensearch_llm.fleet import summary, worst
    from opensearch_llm.secrets import mask_text

    for outcome in outcomes:
        if outcome.error is not None:
            click.echo(mask_text(f"error: {outcome.blueprint}: {outcome.error}"), err=True)
            for note in getattr(outcome.error, "__notes__", []):
                click.echo(mask_text(f"  {note}"), err=True)
        elif not as_json:
            show(outcome.result)
    if as_json:
        emit_json([o.to_dict() for o in outcomes])
    else:
        click.echo(summary(outcomes, verb))
    return worst(outcomes)
