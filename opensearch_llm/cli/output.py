"""Rendering shared by commands: one JSON document on stdout, human text otherwise."""

from __future__ import annotations

import json
from typing import Any

import click


def emit_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def progress(message: str) -> None:
    """A progress line on stderr."""
    click.echo(message, err=True)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
