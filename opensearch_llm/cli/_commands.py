"""Registers every command group on the root group."""

from __future__ import annotations

import click


def register(root: click.Group) -> None:
    """Attach all sub-commands to ``root``."""
    from opensearch_llm.cli import catalog_cmds, lifecycle_cmds, local_cmds, rotate_cmds, run_cmds, sweep_cmds
    from opensearch_llm.cli.ollama_cmds import ollama
    from opensearch_llm.cli.doctor_cmds import doctor
    from opensearch_llm.cli.bench_cmds import bench
    from opensearch_llm.cli.top_cmds import top

    root.add_command(local_cmds.local)
    root.add_command(ollama)
    root.add_command(doctor)
    root.add_command(top)
    root.add_command(bench)
    catalog_cmds.register(root)  # blueprints, init, import
    for cmd in (lifecycle_cmds.validate, lifecycle_cmds.plan, lifecycle_cmds.up, run_cmds.predict,
                run_cmds.chat, run_cmds.smoke, lifecycle_cmds.down, lifecycle_cmds.status, lifecycle_cmds.schema,
                lifecycle_cmds.demo, lifecycle_cmds.settings, rotate_cmds.rotate, sweep_cmds.sweep):
        root.add_command(cmd)
