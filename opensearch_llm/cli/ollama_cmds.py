"""ollama list, ollama pull: the models of an Ollama host."""

from __future__ import annotations

import json
import re
from typing import Any, Optional

import click

from opensearch_llm.cli.output import emit_json, json_option

host_option = click.option("--host", default=None, metavar="URL",
                           help="Ollama base URL [env OLLAMA_BASE_URL; default http://127.0.0.1:11434].")
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)")


def _modified(stamp: str) -> str:
    found = _STAMP.match(stamp)
    return f"{found.group(1)} {found.group(2)}" if found else stamp


@click.group(help="""The models of an Ollama host: list them, pull one with progress.

The host is --host, else OLLAMA_BASE_URL, else http://127.0.0.1:11434 (as seen from this machine).

\b
Example:
  opensearch-llm ollama list
  opensearch-llm ollama pull llama3.2:1b --host http://127.0.0.1:11434
""")
def ollama() -> None:
    """Ollama host commands."""


@ollama.command("list", help="""List the models present on the Ollama host: name, size, last modified.

\b
Example:
  opensearch-llm ollama list
  opensearch-llm ollama list --host http://ollama.example.internal:11434 --json
""")
@host_option
@json_option
def list_models(host: Optional[str], as_json: bool) -> None:
    """List models."""
    from opensearch_llm.ollama import OllamaHost, human_size

    client = OllamaHost(host)
    models = client.list_models()
    if as_json:
        emit_json({"host": client.shown_url, "models": [m.__dict__ for m in models]})
        return
    if not models:
        click.echo(f"no models on Ollama at {client.shown_url} (pull one: opensearch-llm ollama pull llama3.2:1b)")
        return
    width = max(len("NAME"), *(len(m.name) for m in models))
    click.echo(f"{'NAME':<{width}}  {'SIZE':>8}  MODIFIED")
    for m in models:
        click.echo(f"{m.name:<{width}}  {human_size(m.size):>8}  {_modified(m.modified_at)}")


@ollama.command("pull", help="""Pull MODEL onto the Ollama host, with a progress bar per layer on stderr.

Prints a summary (layers, bytes, seconds) on stdout. With --json every progress event is one
NDJSON line on stdout, followed by {"summary": ...}. An unknown model, an unreachable host or a
stream that breaks off exits 1.

\b
Example:
  opensearch-llm ollama pull llama3.2:1b
  opensearch-llm ollama pull nomic-embed-text --json > pull.ndjson
""")
@click.argument("model")
@host_option
@click.option("--json", "as_json", is_flag=True,
              help="Print every progress event as one NDJSON line on stdout, then the summary.")
def pull(model: str, host: Optional[str], as_json: bool) -> None:
    """Pull a model."""
    from opensearch_llm.cli.pull_progress import PullProgress
    from opensearch_llm.ollama import OllamaHost, human_size

    client = OllamaHost(host)
    if as_json:
        def on_event(event: Any) -> None:
            click.echo(json.dumps(event, sort_keys=True))

        summary = client.pull(model, on_event=on_event)
        click.echo(json.dumps({"summary": summary.to_dict()}, sort_keys=True))
        return
    renderer = PullProgress()
    try:
        summary = client.pull(model, on_event=renderer)
    finally:
        renderer.finish()
    click.echo(f"pulled {summary.model} from {client.shown_url}: {summary.layers} layer(s), "
               f"{human_size(summary.bytes)} ({summary.bytes} bytes) in {summary.seconds:.1f} s")
