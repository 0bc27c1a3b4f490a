"""Registers every command group on the root group."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Attach all sub-commands to ``root``."""
    from opensearch_llm.cli import lifecycle_cmds, local_cmds, run_cmds

    root.add_command(local_cmds.local)
    for cmd in (lifecycle_cmds.validate, lifecycle_cmds.plan, lifecycle_cmds.up, run_cmds.predict,
                run_cmds.chat, run_cmds.smoke, lifecycle_cmds.down, lifecycle_cmds.status, lifecycle_cmds.schema,
                lifecycle_cmds.demo):
        root.add_command(cmd)
