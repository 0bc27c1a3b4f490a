"""Option groups shared by commands, and the small glue that turns them into library objects."""

from __future__ import annotations

import functools
import json
import warnings
from typing import Any, Callable, Mapping, Optional

import click

from opensearch_llm.cli.output import progress


def connection_options(fn: Callable) -> Callable:
    """--url, --username, --password, --ca-certs, --insecure (TLS verification is on by default)."""
    opts = [
        click.option("--url", envvar="OPENSEARCH_URL", default=None,
                     help="Cluster URL [env OPENSEARCH_URL; default: the running local node, else http://localhost:9200]."),
        click.option("--username", envvar="OPENSEARCH_USERNAME", default=None, help="Basic-auth user."),
        click.option("--password", envvar="OPENSEARCH_PASSWORD", default=None, help="Basic-auth password."),
        click.option("--ca-certs", envvar="OPENSEARCH_CA_CERTS", default=None, type=click.Path(dir_okay=False),
                     help="CA bundle to verify the cluster's TLS certificate."),
        click.option("--insecure", is_flag=True, help="Do not verify TLS certificates (prints a warning)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def blueprint_options(fn: Callable) -> Callable:
    """--env-file, --trust-env-file and --set."""
    fn = click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE",
                      help="Override a blueprint field, e.g. --set deploy.timeout=2m (repeatable).")(fn)
    fn = click.option("--trust-env-file", is_flag=True, expose_value=False, is_eager=True,
                      callback=lambda ctx, _param, value: ctx.meta.__setitem__("trust_env_file", value),
                      help="Let the env file set where a key from elsewhere (the environment, another file) is "
                           "sent; without it a mix of sources is refused (exit 2).")(fn)
    return click.option("--env-file", type=click.Path(dir_okay=False), default=None,
                        help="Read ${env:...} values from this file too (default ./.env).")(fn)


def trust_env_file() -> bool:
    """Whether the running command was given --trust-env-file."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get("trust_env_file"))


all_users_option = click.option(
    "--all-users", is_flag=True,
    help="Act on every user's runs, not only the caller's (clusters with users; needs an admin).")


def preflight_option(fn: Callable) -> Callable:
    """--no-preflight."""
    return click.option("--no-preflight", is_flag=True,
                        help="Do not ask the provider first whether the key is accepted and the model offered.")(fn)


def warning_printer() -> Callable[[str], None]:
    """An on_warning callback that prints ``warning: ...`` on stderr."""
    def on_warning(message: str) -> None:
        progress(f"warning: {message}")
    return on_warning


def journal_option(fn: Callable) -> Callable:
    """--journal-dir."""
    return click.option("--journal-dir", default=None, envvar="OPENSEARCH_LLM_JOURNAL_DIR",
                        help="Run journals [default: $OPENSEARCH_LLM_STATE_DIR/runs, else "
                             "$XDG_STATE_HOME/opensearch-llm/runs, else ~/.local/state/opensearch-llm/runs].")(fn)


def _local_node(env: Mapping[str, str]) -> Optional[dict]:
    """The running default local node's connection (url, username, password, ca_certs), or None."""
    from opensearch_llm.local.node import local_connection

    return local_connection("default", env)


def make_client(url: Optional[str], username: Optional[str], password: Optional[str],
                ca_certs: Optional[str], insecure: bool) -> Any:
    """An opensearch-py client through the toolkit's transport seam."""
    from opensearch_llm.client import ConnectionSettings, connect

    settings = ConnectionSettings.resolve(url, username, password, ca_certs, insecure, local_node=_local_node)
    if insecure:
        progress("warning: TLS certificate verification is disabled (--insecure)")
    with warnings.catch_warnings():  # the line above replaces connect()'s own warning
        warnings.simplefilter("ignore")
        client = connect(settings)
    if insecure:  # ... and urllib3's, once per request: outside catch_warnings, which would undo it
        import urllib3

        urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    return client


def load(paths: Any, env_file: Optional[str], overrides: Any) -> list:
    """Load and validate blueprints; every problem of every file in one error (exit 2)."""
    from opensearch_llm.blueprint import load_blueprints

    return load_blueprints(list(paths), env_file=env_file, overrides=tuple(overrides), trust_env_file=trust_env_file())


def step_printer() -> Callable[[Any], None]:
    """An on_step callback that prints ``step  detail  (time)`` lines on stderr."""
    def on_step(event: Any) -> None:
        mark = "ok" if event.status == "ok" else "FAILED"
        progress(f"  {mark:<6} {event.step:<16} {event.seconds * 1000:8.0f} ms  {event.detail}")
    return on_step


def parse_params(params_json: Optional[str], pairs: tuple) -> dict:
    """--params JSON and --param k=v (values parsed as JSON when they parse) into one dict."""
    out: dict = {}
    if params_json:
        try:
            loaded = json.loads(params_json)
        except ValueError as exc:
            raise click.BadParameter(f"not JSON: {exc}", param_hint="--params") from None
        if not isinstance(loaded, dict):
            raise click.BadParameter("must be a JSON object", param_hint="--params")
        out.update(loaded)
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--param")
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


def with_run_options(fn: Callable) -> Callable:
    """Inject a RunOptions built from --journal-dir, --keep-on-failure and --no-preflight into the command.

    Warnings (an unreachable provider in the preflight, ...) print as ``warning: ...`` on stderr.
    """
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from opensearch_llm.cli.pull_progress import PullProgress
        from opensearch_llm.api import RunOptions

        kwargs["options"] = RunOptions(keep_on_failure=kwargs.pop("keep_on_failure", False),
                                       journal_dir=kwargs.pop("journal_dir", None),
                                       on_step=step_printer(), on_pull=PullProgress(prefix="  "),
                                       preflight=not kwargs.pop("no_preflight", False),
                                       on_warning=warning_printer(), all_users=kwargs.pop("all_users", False))
        return fn(*args, **kwargs)
    return wrapper


def run_options(fn: Callable) -> Callable:
    """The options of a command that changes the cluster (up, smoke, rotate): --no-preflight, --env-file, --set,
    --journal-dir, the connection, --json; injects RunOptions and cleans up on Ctrl-C/SIGTERM."""
    from opensearch_llm.cli.output import json_option
    from opensearch_llm.cli.signals import guarded

    for decorate in (guarded, with_run_options, json_option, connection_options, journal_option, blueprint_options,
                     preflight_option):
        fn = decorate(fn)
    return fn
