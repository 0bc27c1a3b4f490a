"""predict, chat, smoke."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.options import (
    blueprint_options, connection_options, load, make_client, parse_params, run_options, trust_env_file,
)
from opensearch_llm.cli.fleet_output import expand, jobs_option
from opensearch_llm.cli.output import emit_json, for_terminal, json_option, progress

if TYPE_CHECKING:
    from opensearch_llm.api import RunOptions

param_options = [
    click.option("--system", default=None, help="System prompt."),
    click.option("--params", "params_json", default=None, help="Extra predict parameters as a JSON object."),
    click.option("--param", "param_pairs", multiple=True, metavar="KEY=VALUE",
                 help="One extra parameter, e.g. --param temperature=0.2 (repeatable; also top_p, max_tokens)."),
    click.option("--history", "history_file", type=click.Path(dir_okay=False), default=None,
                 help="Earlier messages: a JSON list of {role, content} (roles system, user, assistant with "
                      "optional tool_calls, tool/tool_result with tool_call_id)."),
    click.option("--stream", is_flag=True,
                 help="Print the answer as it arrives (OpenSearch 3.3+ with streaming enabled); elsewhere one "
                      "line on stderr says why and the full answer follows."),
    click.option("--no-fallback", "no_fallback", is_flag=True,
                 help="Ask only this blueprint's model, not the fallbacks its fallback: list names."),
]


def _with_params(fn: Any) -> Any:
    for opt in reversed(param_options):
        fn = opt(fn)
    return fn


def _fallbacks(bp: Any, env_file: Optional[str], no_fallback: bool) -> list:
    from opensearch_llm.blueprint import load_fallbacks

    if no_fallback or not bp.fallback:
        return []
    return load_fallbacks(bp, env_file=env_file, trust_env_file=trust_env_file())


def _moving_on(attempt: dict) -> None:
    progress(f"{attempt['blueprint']} did not answer ({attempt['reason']}): {attempt['error']}; "
             f"asking {attempt['next']}")


def _render(result: Any, as_json: bool, prefix: str = "") -> None:
    """Warnings and notes on stderr, then the answer (or one JSON document) on stdout."""
    if result.attempts:
        progress(f"answered by {result.blueprint} (fallback {len(result.attempts)}: "
                 f"{', '.join(a['blueprint'] for a in result.attempts)} did not answer)")
    if result.retries:
        progress(f"refused {result.retries} time(s) (429 or throttled, not billed) before the answer")
    for warning in result.warnings:
        progress(f"warning: {warning}")
    if result.stream_note:
        progress(result.stream_note)
    if result.serving and not result.serving.startswith("1/1"):  # a cluster: say how many nodes serve it
        progress(f"model on {result.serving}")
    if as_json:
        emit_json(result.to_dict())
        return
    if result.reasoning:
        progress(f"reasoning: {for_terminal(result.reasoning, err=True)}")
    if result.streamed:
        click.echo("")
    elif result.text or not result.tool_calls:
        click.echo(f"{prefix}{for_terminal(result.text)}")
    for call in result.tool_calls or []:
        fn = call.get("function", {}) if isinstance(call, dict) else {}
        click.echo(f"{prefix}tool call {call.get('id', '')}: {fn.get('name')}({fn.get('arguments', '')})")


def _chunk_printer(prefix: str = "") -> Any:
    started = []

    def on_chunk(text: str) -> None:
        if not started:
            started.append(True)
            click.echo(prefix, nl=False)
        click.echo(for_terminal(text), nl=False)
    return on_chunk


@click.command(help="""One call through the provisioned model; prints the reply.

\b
Example:
  opensearch-llm predict connectors/deepseek-chat.yaml --message hi
  opensearch-llm predict connectors/deepseek-chat.yaml --message hi --system "Be brief" --param temperature=0.2
  opensearch-llm predict connectors/deepseek-chat.yaml --message "and in Rome?" --history turns.json
  opensearch-llm predict connectors/deepseek-reasoner.yaml --message "why?" --stream
""")
@click.argument("blueprint", type=click.Path())
@click.option("--message", "-m", required=True, help="The user message.")
@_with_params
@blueprint_options
@connection_options
@json_option
def predict(blueprint: str, message: str, system: Optional[str], params_json: Optional[str], param_pairs: tuple,
            history_file: Optional[str], stream: bool, no_fallback: bool, env_file: Optional[str], overrides: tuple,
            as_json: bool, **conn: Any) -> None:
    """Predict once."""
    from opensearch_llm import api

    bp = load([blueprint], env_file, overrides)[0]
    fallbacks = _fallbacks(bp, env_file, no_fallback)
    params = parse_params(params_json, param_pairs)
    history = api.load_history(history_file) if history_file else []
    result = api.predict(make_client(**conn), bp, message, system=system, history=history, params=params,
                         stream=stream, on_chunk=None if as_json else _chunk_printer(), fallbacks=fallbacks,
                         on_fallback=_moving_on)
    _render(result, as_json)


@click.command(help="""Interactive multi-turn conversation through the connector; /exit ends it.

\b
Example:
  opensearch-llm chat connectors/deepseek-chat.yaml --system "You are terse" --param temperature=0.2
  opensearch-llm chat connectors/ollama-chat.yaml --history turns.json --stream
""")
@click.argument("blueprint", type=click.Path())
@_with_params
@blueprint_options
@connection_options
def chat(blueprint: str, system: Optional[str], params_json: Optional[str], param_pairs: tuple,
         history_file: Optional[str], stream: bool, no_fallback: bool, env_file: Optional[str], overrides: tuple,
         **conn: Any) -> None:
    """Chat with the provisioned model."""
    from opensearch_llm import api

    bp = load([blueprint], env_file, overrides)[0]
    fallbacks = _fallbacks(bp, env_file, no_fallback)
    client = make_client(**conn)
    params = parse_params(params_json, param_pairs)
    history: list[dict] = api.load_history(history_file) if history_file else []
    model_id = api.model_id_of(client, bp)
    warned: set = set()
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
        result = api.predict(client, bp, line, system=system, history=history, params=params, model_id=model_id,
                             stream=stream, on_chunk=_chunk_printer(f"{bp.name}> "), fallbacks=fallbacks,
                             on_fallback=_moving_on)
        stream = stream and result.stream_note is None  # say it once, then stop asking
        result.warnings = [w for w in result.warnings if w not in warned]
        warned.update(result.warnings)
        _render(result, False, prefix=f"{result.blueprint or bp.name}> ")
        history += [{"role": "user", "content": line},
                    api.assistant_message(result.text, result.tool_calls, result.reasoning)]


@click.command(help="""The CI command: for each blueprint, up → probe → down with run-scoped names.

First, before any cluster request, every blueprint's preflight asks its provider whether the key is accepted
and the model offered (exit 2 if not; an unreachable provider only warns).

\b
Example:
  opensearch-llm smoke connectors/deepseek-chat.yaml connectors/ollama-chat.yaml --json
""")
@click.argument("blueprints", nargs=-1, required=True, type=click.Path())
@click.option("--junit", type=click.Path(dir_okay=False), default=None, help="Also write a JUnit XML report.")
@jobs_option
@run_options
def smoke(blueprints: tuple, junit: Optional[str], jobs: int, env_file: Optional[str], overrides: tuple,
          as_json: bool, options: "RunOptions", **conn: Any) -> None:
    """Smoke-test blueprints."""
    from opensearch_llm import api
    from opensearch_llm.errors import LeftoversError, OpenSearchLLMError

    loaded = load(expand(blueprints), env_file, overrides)
    runs = api.smoke(make_client(**conn), loaded, options=options, jobs=jobs)
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
