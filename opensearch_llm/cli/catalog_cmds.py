"""blueprints, init, import: the shipped catalog, an editable copy, ML Commons connector JSON -> blueprint."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import click

from opensearch_llm.cli.output import emit_json, json_option, progress

if TYPE_CHECKING:
    from opensearch_llm.catalog import Entry


@click.command(help="""List the shipped blueprints: name, provider, description and the variables each reads.

Every command that takes a BLUEPRINT accepts one of these names as well as a path (a path wins when
both exist).

\b
Example:
  opensearch-llm blueprints
  opensearch-llm blueprints --json
""")
@json_option
def blueprints(as_json: bool) -> None:
    """List the catalog."""
    from opensearch_llm.catalog import entries

    found = entries()
    if as_json:
        emit_json([e.to_dict() for e in found])
        return
    for entry in found:
        click.echo(f"{entry.name:<20} {entry.provider:<18} {entry.description}")
        click.echo(f"{'':<20} {_variables(entry)}")


def _variables(entry: "Entry") -> str:
    optional = [f"{v.name} (default {v.default})" if v.default is not None else v.name
                for v in entry.variables if not v.required]
    parts = [f"requires {', '.join(entry.requires)}" if entry.requires else "requires nothing"]
    if optional:
        parts.append(f"reads {', '.join(optional)}")
    return "; ".join(parts)


@click.command(help="""Write an editable copy of a shipped blueprint (default ./NAME.yaml; a directory gets
NAME.yaml inside). An existing file is kept unless --force. Exit 2 on an unknown name.

\b
Example:
  opensearch-llm init ollama-chat
  opensearch-llm init openai-compatible azure-openai.yaml
""")
@click.argument("name")
@click.argument("path", required=False, type=click.Path())
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(name: str, path: Optional[str], force: bool) -> None:
    """Copy a shipped blueprint."""
    from opensearch_llm.catalog import init_copy

    written = init_copy(name, path, force=force)
    click.echo(str(written))
    progress(f"wrote an editable copy of {name}; check it with: opensearch-llm validate {written}")


@click.command("import", help="""Turn an ML Commons connector body (the JSON of POST
_plugins/_ml/connectors/_create, as the ML Commons docs publish it) into a blueprint on stdout or -o FILE.

Every credential becomes ${env:VAR} (the value in the input is never written; stderr names each variable
to set); model group, model, predict and a smoke probe are generated. Exit 2 when the input has no predict
action, or when the result does not validate yet (it is still written, with a comment saying what to add).

\b
Example:
  opensearch-llm import connector.json -o my-model.yaml
  opensearch-llm import - --name my-model < connector.json
""")
@click.argument("source", metavar="FILE|-", type=click.File("r", encoding="utf-8"))
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write here instead of stdout.")
@click.option("--name", default=None, help="Blueprint name [default: from the connector name, else the file name].")
@click.option("--force", is_flag=True, help="Overwrite an existing --output file.")
def import_(source: Any, output: Optional[str], name: Optional[str], force: bool) -> None:
    """Convert connector JSON."""
    from opensearch_llm.blueprint.importer import import_connector
    from opensearch_llm.errors import BlueprintError, InvalidInputError

    if output and Path(output).exists() and not force:
        raise InvalidInputError(f"{output} already exists", hint="pass --force to overwrite it")
    origin = getattr(source, "name", "-")
    imported = import_connector(source.read(), "-" if origin == "<stdin>" else origin, name=name,
                                label=output or "<stdout>")
    if output:
        Path(output).write_text(imported.text, encoding="utf-8")
        progress(f"wrote {output} (blueprint {imported.name})")
    else:
        click.echo(imported.text, nl=False)
    for note in imported.notes:
        progress(f"note: {note}")
    for var, what in imported.variables.items():
        held = " (the input held a value for it; it was not copied)" if var in imported.literals else ""
        progress(f"set {var}: {what}{held}")
    if imported.problems:
        raise BlueprintError(imported.problems)


def register(root: click.Group) -> None:
    """Attach blueprints, init and import to ``root``."""
    for cmd in (blueprints, init, import_):
        root.add_command(cmd)
