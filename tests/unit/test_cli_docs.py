"""docs/cli.md is the CLI's help text, and every registered command's help ends with an Example block."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from opensearch_llm.cli import cli
from opensearch_llm.cli.docs import REGENERATE, commands, render

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "cli.md"
# whatever is registered when the tests are collected, groups and their sub-commands included
REGISTERED = [(ctx.command_path, cmd) for ctx, cmd in commands(cli)]


def test_docs_cli_md_matches_the_help_text() -> None:
    assert DOCS.exists(), f"docs/cli.md is missing: generate it with {REGENERATE}"
    actual = DOCS.read_text(encoding="utf-8")
    expected = render(cli)
    assert actual == expected, f"docs/cli.md is out of date: regenerate with {REGENERATE}"


def test_every_command_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for path, _cmd in REGISTERED:
        assert f"\n## {path}\n" in text, f"{path} is not in docs/cli.md: regenerate with {REGENERATE}"
    assert len(REGISTERED) > 15 and "opensearch-llm doctor" in dict(REGISTERED)


@pytest.mark.parametrize("path, cmd", REGISTERED, ids=[p for p, _ in REGISTERED])
def test_help_ends_with_an_example_block(path: str, cmd: click.Command) -> None:
    text = (cmd.help or "").rstrip()
    assert text, f"{path} has no help text"
    head, sep, tail = text.rpartition("\nExample:")
    assert sep, f"{path}: the help text has no 'Example:' block"
    assert head.rstrip(" ").endswith("\b"), f"{path}: put \\b before 'Example:' so click keeps the lines as written"
    examples = [line for line in tail.splitlines() if line.strip()]
    assert examples, f"{path}: the Example block is empty"
    for line in examples:
        assert line.startswith("  ") and "opensearch-llm" in line, f"{path}: not an example command line: {line!r}"
    sub = path.split()[1:]
    assert any(" ".join(["opensearch-llm", *sub]) in line for line in examples), f"{path}: no example runs it"


@pytest.mark.parametrize("path", [p for p, _ in REGISTERED])
def test_help_renders_with_the_example_last(path: str) -> None:
    result = CliRunner().invoke(cli, [*path.split()[1:], "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    description = result.output.split("\nOptions:")[0]
    assert "\n  Example:\n" in description
    last = description.rstrip().splitlines()[-1]
    assert last.startswith("    ") and "opensearch-llm" in last, f"{path}: the help does not end with its examples"


@pytest.mark.parametrize("shell, marker", [("bash", "_opensearch_llm_completion"), ("zsh", "#compdef opensearch-llm"),
                                           ("fish", "complete --no-files --command opensearch-llm")])
def test_documented_shell_completion_works(shell: str, marker: str) -> None:
    env = {**os.environ, "_OPENSEARCH_LLM_COMPLETE": f"{shell}_source"}
    proc = subprocess.run([sys.executable, "-m", "opensearch_llm"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert marker in proc.stdout
    assert f"_OPENSEARCH_LLM_COMPLETE={shell}_source opensearch-llm" in DOCS.read_text(encoding="utf-8")
