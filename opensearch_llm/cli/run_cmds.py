"""predict, chat, smoke."""

from __future__ import annotations

from typing import Any, Optional

import click

from opensearch_llm.cli.options import (
    blueprint_options, connection_options, journal_option, load, make_client, parse_params, with_run_options,
)
from opensearch_llm.cli.output import emit_json, json_option, progress

param_options = [
    click.option("--system", default=None, help="System prompt."),
    click.option("--params", "params_json", default=None, help="Extra predict parameters as a JSON object."),
    click.option("--param", "param_pairs", multiple=True, metavar="KEY=VALUE",
                 help="One extra parameter, e.g. --param temperature=0.2 (repeatable)."),
]


def _with_params(fn: Any) -> Any:
    for opt in reversed(param_options):
        fn = opt(fn)
    return fn


@click.command(help="""One call through the provisioned model; prints the reply.

\b
Example:
  opensearch-llm predict connectors/deepseek-chat.yaml --message hi
  opensearch-llm predict connectors/deepseek-chat.yaml --message hi --system "Be brief" --param temperature=0.2
""")
@click.argument("blueprint", type=click.Path())
@click.option("--message", "-m", required=True, help="The user message.")
@_with_params
@blueprint_options
@connection_options
@json_option
def predict(blueprint: str, message: str, system: Optional[str], params_json: Optional[str], param_pairs: tuple,
            env_file: Optional[str], overrides: tuple, as_json: bool, **conn: Any) -> None:
    """Predict once."""
    from opensearch_llm import api

    bp = load([blueprint], env_file, overrides)[0]
    params = parse_params(params_json, param_pairs)
    result = api.predict(bp, make_client(**conn), message, system=system, params=params)
    if as_json:
        emit_json(result.to_dict())
        return
    if result.reasoning:
        progress(f"reasoning: {result.reasoning}")
    click.echo(result.text)


@click.command(help="""Interactive multi-turn conversation through the connector; /exit ends it.

\b
Example:
  opensearch-llm chat connectors/deepseek-chat.yaml --system "You are terse"
""")
@click.argument("blueprint", type=click.Path())
@_with_params
@blueprint_options
@connection_options
def chat(blueprint: str, system: Optional[str], params_json: Optional[str], param_pairs: tuple,
         env_file: Optional[str], overrides: tuple, **conn: Any) -> None:
    """Chat with the provisioned model."""
    from opensearch_llm.lifecycle.conversation import predict, provisioned_model_id

    bp = load([blueprint], env_file, overrides)[0]
    client = make_client(**conn)
    params = parse_params(params_json, param_pairs)
    model_id = provisioned_model_id(client, bp)
    history: list[dict] = []
    progress(f"chatting with {bp.name} (model {model_id}); /exit to leave")
    while True:
        try:
            line = click.prompt("you", prompt_suffix="> ", default="", show_default=False)
        except (EOFError, click.exceptions.Abort):
            break
        if line.strip() in ("/exit", "/quit"):
            break
        if not line.strip():
            continue
        result = predict(client, bp, line, system=system, history=history, params=params, model_id=model_id)
        if result.reasoning:
            progress(f"(reasoning) {result.reasoning}")
        click.echo(f"{bp.name}> {result.text}")
        history += [{"role": "user", "content": line}, {"role": "assistant", "content": result.text}]


@click.command(help="""The CI command: for each blueprint, up → probe → down with run-scoped names.

\b
Example:
  opensearch-llm smoke connectors/deepseek-chat.yaml connectors/ollama-chat.yaml --json
""")
@click.argument("blueprints", nargs=-1, required=True, type=click.Path())
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Also write a JUnit XML report.")
@blueprint_options
@journal_option
@connection_options
@json_option
@with_run_options
def smoke(blueprints: tuple, junit: Optional[str], env_file: Optional[str], overrides: tuple, as_json: bool,
          options: Any, **conn: Any) -> None:
    """Smoke-test blueprints."""
    from opensearch_llm import api
    from opensearch_llm.errors import LeftoversError, OpenSearchLLMError

    loaded = load(blueprints, env_file, overrides)
    runs = api.smoke(loaded, make_client(**conn), options=options)
    summary = {"ok": all(r.ok for r in runs), "runs": [r.to_dict() for r in runs]}
    if junit:
        from opensearch_llm.junit import write_junit

        write_junit(junit, runs)
    if as_json:
        emit_json(summary)
    else:
        for r in runs:
            click.echo(f"{'PASS' if r.ok else 'FAIL'}  {r.blueprint}  {r.seconds:.1f}s  run {r.run_id}"
                       + (f"  {r.error}" if r.error else ""))
    if any(r.teardown.get("leftovers") for r in runs):
        raise LeftoversError("smoke left resources behind; run: opensearch-llm sweep --yes")
    if not summary["ok"]:
        raise OpenSearchLLMError(f"{sum(not r.ok for r in runs)} of {len(runs)} smoke run(s) failed")
