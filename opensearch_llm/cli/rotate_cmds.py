"""rotate: new credentials through a new connector, the same model_id."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.options import load, make_client, run_options
from opensearch_llm.cli.output import emit_json

if TYPE_CHECKING:
    from opensearch_llm.api import RunOptions


@click.command(help="""Rotate the provider credentials of a provisioned model without downtime: read them again
from the environment, create a new connector with them, switch the live model to it (same model_id), prove it
with the smoke probe, then delete the old connector. A refused key switches back: the model keeps answering with
the old key, and the command exits 1 with the provider's message.

\b
Example:
  DEEPSEEK_API_KEY=sk-new... opensearch-llm rotate deepseek-chat
""")
@click.argument("blueprint", type=click.Path())
@run_options
def rotate(blueprint: str, env_file: Optional[str], overrides: tuple, as_json: bool, options: "RunOptions",
           **conn: Any) -> None:
    """Rotate credentials."""
    from opensearch_llm import api

    bp = load([blueprint], env_file, overrides)[0]
    result = api.rotate(make_client(**conn), bp, options=options)
    if as_json:
        emit_json(result.to_dict())
        return
    change = result.switch
    click.echo(f"{bp.name}: model {change.model} now answers through connector {change.new} "
               f"(was {change.old}, deleted)" + (f"; stale connectors removed: {result.cleaned}" if result.cleaned else ""))
