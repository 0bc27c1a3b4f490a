"""Helpers shared by the unit and the integration tests (fixtures live in tests/conftest.py)."""

from __future__ import annotations

import socket
from typing import Tuple

import pytest

#: The key the ``deepseek_api`` fixture's FakeDeepSeek accepts.
FAKE_KEY = "sk-fake-unit-0123456789abcdef"
#: DeepSeek's V4 model names, as a FakeDeepSeek that serves only those lists them.
V4 = ("deepseek-v4-flash", "deepseek-v4-pro")


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def closed_url() -> str:
    """``http://127.0.0.1:<port>`` with nothing listening there."""
    return f"http://127.0.0.1:{closed_port()}"


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, str, str]:
    """Run the CLI in this process: its exit code, stdout and stderr."""
    from opensearch_llm.cli import main

    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err
