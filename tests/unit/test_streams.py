"""A closed output never stops the CLI (issue 23): writes after the reader went away are dropped, not raised."""

from __future__ import annotations

import os
import subprocess
import sys

from opensearch_llm.cli.streams import _DropWhenClosed


def test_a_closed_pipe_is_dropped_silently() -> None:
    read, write = os.pipe()
    os.close(read)
    raw = _DropWhenClosed(write)
    assert raw.write(b"hello\n") == 6 and raw.broken
    assert raw.write(b"more\n") == 5  # everything after the first broken pipe is dropped
    os.close(write)


def test_the_cli_piped_into_head_exits_cleanly() -> None:
    code = (f"{sys.executable} -m opensearch_llm schema | true; "  # the reader is gone before the first write
            "echo \"rc=${PIPESTATUS[0]}\"")
    result = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "rc=0", result
    assert "BrokenPipeError" not in result.stderr and "Exception ignored" not in result.stderr, result.stderr


def test_control_characters_are_escaped_on_a_terminal_only(monkeypatch) -> None:
    from opensearch_llm.cli import output

    class Tty:
        def __init__(self, tty: bool) -> None:
            self.tty = tty

        def isatty(self) -> bool:
            return self.tty

    monkeypatch.setattr(output.sys, "stdout", Tty(True))
    assert output.for_terminal("a\x1b[2Jb\tc\n") == "a\\x1b[2Jb\tc\n"
    monkeypatch.setattr(output.sys, "stdout", Tty(False))
    assert output.for_terminal("a\x1b[2Jb") == "a\x1b[2Jb"
