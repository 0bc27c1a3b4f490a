"""``opensearch-llm local``: a real OpenSearch + ML Commons node on loopback."""

from __future__ import annotations

from typing import Optional

import click

from opensearch_llm.cli.output import emit_json, json_option, progress

name_option = click.option("--name", default="default", show_default=True, help="Instance name.")


@click.group(help="""Run a real single-node OpenSearch with ML Commons on 127.0.0.1 (no Docker).

\b
Example:
  opensearch-llm local start --version 2.19
  opensearch-llm local stop --purge
""")
def local() -> None:
    """Local node commands."""


@local.command(help="""Start the node (idempotent) and print its URL.

--secure: OpenSearch 2.19.1 with the security plugin, TLS on HTTP and transport with a CA made for
this instance, user admin (all_access) and ml-user (ml_full_access only). Their random passwords are
in 0600 files in the instance directory (--json: password_file, ml_password_file, ca_certs) and are
never printed.

\b
Example:
  opensearch-llm local start
  opensearch-llm local start --version 3 --port 9201 --json
  opensearch-llm local start --secure --name secured --json
""")
@click.option("--version", "version", default=None,
              help="2.19 (default), 3, or an exact version (with --secure: 2.19.1).")
@click.option("--port", type=int, default=None, help="HTTP port (default: a free one).")
@click.option("--heap", default="1g", show_default=True, help="JVM heap.")
@click.option("--backend", type=click.Choice(["local", "docker"]), default="local", show_default=True)
@click.option("--timeout", type=float, default=180.0, show_default=True, help="Seconds to wait for readiness.")
@click.option("--secure", is_flag=True, help="With the security plugin: TLS, users admin and ml-user.")
@name_option
@json_option
def start(version: Optional[str], port: Optional[int], heap: str, backend: str, timeout: float,
          secure: bool, name: str, as_json: bool) -> None:
    """Start a local node."""
    if backend == "docker":
        if secure:
            raise click.UsageError("--secure works with the local backend only")
        from opensearch_llm.local.docker import DockerNode as Node
        node = Node(version, port=port, name=name, heap=heap, ready_timeout=timeout, progress=progress)
    else:
        from opensearch_llm.local import LocalNode

        node = LocalNode(version, port=port, name=name, heap=heap, ready_timeout=timeout, progress=progress,
                         secure=secure)
    info = node.start()
    if as_json:
        emit_json(info.to_dict())
    else:
        extra = " and the security plugin" if info.secure else ""
        progress(f"OpenSearch {info.version} with ML Commons{extra} is ready (Java {info.java}, pid {info.pid})")
        if info.secure:
            progress(f"user {info.username}, password in {info.password_file}, CA certificate {info.ca_certs}; "
                     f"user {info.ml_user} (ml_full_access), password in {info.ml_password_file}")
        click.echo(info.url)


@local.command(help="""Stop the node; no process of the instance is left.

\b
Example:
  opensearch-llm local stop --purge
""")
@click.option("--purge", is_flag=True, help="Also delete the instance's data and logs.")
@name_option
def stop(purge: bool, name: str) -> None:
    """Stop a local node."""
    from opensearch_llm.local import LocalNode

    was_running = LocalNode(name=name).stop(purge=purge)
    progress(f"local node {name!r} " + ("stopped" if was_running else "was not running"))


@local.command(help="""Show whether the node runs, and where.

\b
Example:
  opensearch-llm local status --json
""")
@name_option
@json_option
def status(name: str, as_json: bool) -> None:
    """Report a local node's state; exit 1 when it is not running."""
    from opensearch_llm.local import LocalNode

    info = LocalNode(name=name).running()
    if as_json:
        emit_json({"running": bool(info), **(info.to_dict() if info else {"name": name})})
    elif info:
        secured = f", secured: user {info.username}, CA {info.ca_certs}" if info.secure else ""
        click.echo(f"{info.name}: running OpenSearch {info.version} at {info.url} (pid {info.pid}, Java {info.java}"
                   f"{secured})")
    else:
        click.echo(f"{name}: not running")
    if not info:
        raise SystemExit(1)


@local.command(help="""Print the node's last log lines.

\b
Example:
  opensearch-llm local logs -n 100
""")
@click.option("-n", "--lines", type=int, default=50, show_default=True)
@name_option
def logs(lines: int, name: str) -> None:
    """Print a local node's log tail."""
    from opensearch_llm.local import LocalNode

    click.echo(LocalNode(name=name).log_tail(lines))
