"""Rendering shared by commands: one JSON document on stdout, human text otherwise."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def progress(message: str) -> None:
    """A progress line on stderr."""
    click.echo(message, err=True)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")


# C0 and C1 control characters but tab and newline: an answer could move the cursor, clear the screen or set the
# terminal's title; on a terminal they are shown escaped (\x1b), raw with --json or when piped
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def for_terminal(text: str, err: bool = False) -> str:
    """``text`` with control characters escaped when it goes to a terminal, as it is otherwise."""
    stream = sys.stderr if err else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return _CONTROL.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text) if tty else text
