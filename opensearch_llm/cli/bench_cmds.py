"""bench."""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.options import blueprint_options, connection_options, load, make_client
from opensearch_llm.cli.output import emit_json, json_option, progress

if TYPE_CHECKING:
    import logging


def _quiet_full_pool(record: "logging.LogRecord") -> bool:
    """Drop urllib3's "Connection pool is full" warning: above the client's pooled connections (16) each extra
    concurrent call opens its own, once per call; that cost is part of what the bench measures."""
    return not record.getMessage().startswith("Connection pool is full")


@click.command(help="""Bounded load through the provisioned model: latency percentiles, error mix, retries.

Sends --requests predicts of --message through the cluster, --concurrency at a time, then the same load
straight to the provider from this machine (--no-direct skips it), so the difference is what the cluster hop
costs. Prints each path's calls, failures by kind, refused-and-retried attempts, latency (min, p50, p90, p99,
max, mean of the answered calls), wall time and a latency histogram. At most 10000 requests per path and 256
at a time. Every call may be billed by the provider. Exit 1 when a call through the cluster failed.

\b
Example:
  opensearch-llm bench connectors/deepseek-chat.yaml --concurrency 8 --requests 200
  opensearch-llm bench connectors/ollama-chat.yaml --concurrency 2 --requests 20 --no-direct --json
""")
@click.argument("blueprint", type=click.Path())
@click.option("--concurrency", "-c", type=int, required=True, help="Calls in flight at once (1-256).")
@click.option("--requests", "-n", "requests_", type=int, required=True, help="Calls per path (1-10000).")
@click.option("--message", "-m", default="ping", show_default=True, help="The user message of every call.")
@click.option("--no-direct", is_flag=True, help="Only through the cluster: send nothing straight to the provider.")
@blueprint_options
@connection_options
@json_option
def bench(blueprint: str, concurrency: int, requests_: int, message: str, no_direct: bool,
          env_file: Optional[str], overrides: tuple, as_json: bool, **conn: Any) -> None:
    """Benchmark a provisioned model."""
    import logging

    from opensearch_llm import api
    from opensearch_llm.errors import OpenSearchLLMError

    bp = load([blueprint], env_file, overrides)[0]
    logging.getLogger("urllib3.connectionpool").addFilter(_quiet_full_pool)
    report = api.bench(make_client(**conn), bp, concurrency=concurrency, requests=requests_, message=message,
                       direct=not no_direct, on_progress=lambda text: progress(f"bench {text}"))
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.render(shutil.get_terminal_size((100, 24)).columns))
    cluster = report.paths["cluster"]
    if cluster.failed:
        raise OpenSearchLLMError(f"{cluster.failed} of {cluster.sent} calls through the cluster failed")
