"""Render the command reference (docs/cli.md) from the CLI's own help text.

::

    python -m opensearch_llm.cli.docs > docs/cli.md

``tests/unit/test_cli_docs.py`` fails when docs/cli.md differs from :func:`render`, so regenerate it
after any change to a command, an option or a help text.
"""

from __future__ import annotations

import sys
from typing import Iterator

import click

PROG = "opensearch-llm"
WIDTH = 100
REGENERATE = "python -m opensearch_llm.cli.docs > docs/cli.md"

HEADER = f"""# `{PROG}` command reference

Generated from the help text of every command by `{REGENERATE}`; do not edit by hand.
`tests/unit/test_cli_docs.py` fails when this file and the help text drift apart.

Every cluster command takes the same connection options (`--url`/`OPENSEARCH_URL`, `--username`,
`--password`, `--ca-certs`, `--insecure`); `--json` prints one JSON document on stdout while progress goes to
stderr. Exit codes: 0 ok · 1 operation failed · 2 invalid input (nothing changed) · 3 resources left behind ·
4 `plan --exit-code`: `up` would change something (drift included) · 130 interrupted.

## Shell completion

Completion comes from click; the variable is `_OPENSEARCH_LLM_COMPLETE`. It completes commands, options and
file arguments.

| shell | add this to your shell's startup file |
|---|---|
| bash (`~/.bashrc`, bash 4.4+) | `eval "$(_OPENSEARCH_LLM_COMPLETE=bash_source {PROG})"` |
| zsh (`~/.zshrc`) | `eval "$(_OPENSEARCH_LLM_COMPLETE=zsh_source {PROG})"` |
| fish | `_OPENSEARCH_LLM_COMPLETE=fish_source {PROG} > ~/.config/fish/completions/{PROG}.fish` (once) |

To avoid running the CLI at every shell start, write the script to a file once
(`_OPENSEARCH_LLM_COMPLETE=bash_source {PROG} > ~/.{PROG}-complete.bash`) and source that file instead.
"""


def commands(root: click.Command, name: str = PROG) -> Iterator[tuple[click.Context, click.Command]]:
    """Every command under ``root`` (root first, then depth-first in name order) with its help context."""
    ctx = click.Context(root, info_name=name, terminal_width=WIDTH, max_content_width=WIDTH)
    yield from _walk(ctx)


def _walk(ctx: click.Context) -> Iterator[tuple[click.Context, click.Command]]:
    yield ctx, ctx.command
    if isinstance(ctx.command, click.Group):
        for sub_name in ctx.command.list_commands(ctx):
            sub = ctx.command.get_command(ctx, sub_name)
            if sub is not None and not sub.hidden:
                yield from _walk(click.Context(sub, info_name=sub_name, parent=ctx))


def _anchor(path: str) -> str:
    return path.replace(" ", "-")


def render(root: click.Command, name: str = PROG) -> str:
    """The Markdown reference: header, command index, then each command's ``--help`` verbatim."""
    found = list(commands(root, name))
    index = ["| command | does |", "|---|---|"]
    sections = []
    for ctx, cmd in found:
        path = ctx.command_path
        index.append(f"| [`{path}`](#{_anchor(path)}) | {cmd.get_short_help_str(limit=90)} |")
        sections.append(f"## {path}\n\n```text\n{cmd.get_help(ctx).rstrip()}\n```\n")
    return "\n".join([HEADER, "## Commands\n", "\n".join(index) + "\n", *sections]).rstrip("\n") + "\n"


def main() -> int:
    """Print the reference for the ``opensearch-llm`` CLI on stdout."""
    from opensearch_llm.cli import cli

    sys.stdout.write(render(cli))
    return 0


if __name__ == "__main__":
    sys.exit(main())
