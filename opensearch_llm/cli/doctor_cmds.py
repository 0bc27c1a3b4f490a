"""doctor: a pass/fail table of everything `up` depends on, each failure with its fix."""

from __future__ import annotations

from typing import Any, Optional

import click

from opensearch_llm.cli.options import (
    blueprint_options, connection_options, make_client, preflight_option, trust_env_file,
)
from opensearch_llm.cli.output import emit_json, json_option


@click.command(help="""Check that `up` can work here; every failure comes with its fix. Exit 1 if any check fails.

Cluster: reachable, version, ML Commons installed, remote inference enabled, nodes for remote models. Then the
consumers it supports, as yes/no (a missing one is not a failure): RAG search pipelines, agents, conversation
memory, the ml_inference ingest processor, k-NN. For each BLUEPRINT: it loads; the settings that would block
it (passing when `up` can change them itself, saying what it will change); its upstream answers from this machine
(any HTTP status counts; no credential is sent); its preflight: the provider accepts the key and offers the model
(fails on a refusal, warns when it cannot ask).

\b
Example:
  opensearch-llm doctor
  opensearch-llm doctor connectors/deepseek-chat.yaml connectors/ollama-chat.yaml --json
""")
@click.argument("blueprints", nargs=-1, type=click.Path())
@click.option("--timeout", type=click.FloatRange(min=0.1), default=3.0, show_default=True,
              help="Seconds to wait for each upstream.")
@preflight_option
@blueprint_options
@connection_options
@json_option
def doctor(blueprints: tuple, timeout: float, no_preflight: bool, env_file: Optional[str], overrides: tuple,
           as_json: bool, **conn: Any) -> None:
    """Run the checks."""
    from opensearch_llm import api
    from opensearch_llm.errors import OpenSearchLLMError

    report = api.doctor(make_client(**conn), blueprints, env_file=env_file, overrides=overrides, timeout=timeout,
                        preflight=not no_preflight, trust_env_file=trust_env_file())
    if as_json:
        emit_json(report.to_dict())
    else:
        click.echo(report.text())
    if report.failed:
        raise OpenSearchLLMError(f"{report.failed} of {len(report.checks)} check(s) failed")
