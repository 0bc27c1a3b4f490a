"""top: a live view of our models: state, serving nodes, requests, failures and latency, refreshed in place."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any, Callable, Optional

import click

from opensearch_llm.cli.options import blueprint_options, connection_options, make_client
from opensearch_llm.cli.output import emit_json, for_terminal, json_option

CLEAR = "\x1b[H\x1b[2J"  # cursor home, then clear the screen


@click.command(help="""A live view of every model of ours: blueprint, model id, state, serving/planned nodes, requests,
failures and latency percentiles (ML Commons' stats and profile APIs), per model and, on a cluster, per node.
Refreshes every --interval seconds until Ctrl-C; --once prints the table once, --json prints one snapshot as JSON
(for scripts) and exits. Give BLUEPRINTs to show only their models.

Latency is ML Commons' window of each node's recent successful calls (default 100); failures are what a node ran
less what succeeded ("?" when its window no longer holds every request).

\b
Example:
  opensearch-llm top
  opensearch-llm top connectors/deepseek-chat.yaml --interval 5
  opensearch-llm top --once
  opensearch-llm top --json
""")
@click.argument("blueprints", nargs=-1, type=click.Path())
@click.option("--once", is_flag=True, help="Print the table once and exit.")
@click.option("--interval", type=click.FloatRange(min=0.2), default=2.0, show_default=True, metavar="SECONDS",
              help="Seconds between refreshes.")
@blueprint_options
@connection_options
@json_option
def top(blueprints: tuple, once: bool, interval: float, env_file: Optional[str], overrides: tuple, as_json: bool,
        **conn: Any) -> None:
    """Show our models' figures."""
    from opensearch_llm import api

    client = make_client(**conn)
    names = _names(blueprints, env_file, overrides)

    def frame() -> str:
        """The table, read now."""
        return api.top_snapshot(client, blueprints=names).render(_width())

    if as_json:
        emit_json(api.top_snapshot(client, blueprints=names).to_dict())
    elif once:
        click.echo(for_terminal(frame()))
    else:
        watch(frame, interval)


def _names(blueprints: tuple, env_file: Optional[str], overrides: tuple) -> list[str]:
    """The names of the BLUEPRINT arguments (files, directories or shipped names); no secret is needed."""
    if not blueprints:
        return []
    from opensearch_llm.blueprint.identity import load_identity
    from opensearch_llm.cli.fleet_output import expand

    return [load_identity(path, env_file=env_file, overrides=overrides).name for path in expand(blueprints)]


def _width() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def watch(frame: Callable[[], str], interval: float, sleep: Callable[[float], None] = time.sleep) -> None:
    """Redraw ``frame()`` every ``interval`` seconds until Ctrl-C (a normal end) or until stdout's reader goes away.

    A refresh that fails is shown in place of the table and retried; only the first one raises (a wrong URL or
    password fails at once, with its exit code).
    """
    from opensearch_llm.cli.streams import output_gone
    from opensearch_llm.errors import OpenSearchLLMError
    from opensearch_llm.secrets import mask_text

    shown = 0
    try:
        while True:
            try:
                text = frame()
            except OpenSearchLLMError as exc:
                if not shown:
                    raise
                text = mask_text(f"error: {exc} (retrying every {interval:g} s)")
            # on a terminal each frame replaces the last; piped, frames follow each other
            head = CLEAR if sys.stdout.isatty() else "\n" * bool(shown)
            click.echo(head + for_terminal(text) + f"\n(every {interval:g} s; Ctrl-C to stop)")
            shown += 1
            if output_gone(sys.stdout):
                return
            sleep(interval)
    except (KeyboardInterrupt, BrokenPipeError):
        return
