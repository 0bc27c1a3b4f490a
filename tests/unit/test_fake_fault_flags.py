"""The standalone fakes' fault flags: --fail-status, --retry-after, --delay, --malformed (real processes)."""

from __future__ import annotations

import importlib
import json
import os
import select
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator, List, Optional

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKES = {
    "opensearch_llm.testing.fake_deepseek": ("/chat/completions", {"model": "deepseek-flash", "messages": [
        {"role": "user", "content": "hi"}]}, {"Authorization": "Bearer sk-test"}),
    "opensearch_llm.testing.fake_ollama": ("/api/chat", {"model": "llama3.2:1b", "stream": False, "messages": [
        {"role": "user", "content": "hi"}]}, {}),
}
FLAGS = ("--fail-status", "--retry-after", "--delay", "--malformed")


def env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    """A standalone fake started with some flags; stopped with SIGTERM."""

    def __init__(self, module: str, flags: List[str]) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(self.port), *flags],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                                     cwd=str(REPO_ROOT))
        ready, _, _ = select.select([self.proc.stdout], [], [], 10)
        assert ready, "no output from the fake server"
        assert self.proc.stdout.readline().strip().endswith(f"listening on http://127.0.0.1:{self.port}")

    def post(self, module: str) -> requests.Response:
        path, body, headers = FAKES[module]
        return requests.post(f"http://127.0.0.1:{self.port}{path}", json=body, headers=headers, timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            assert self.proc.wait(timeout=10) == 0
        self.proc.communicate(timeout=10)


@pytest.fixture(params=sorted(FAKES))
def module(request: pytest.FixtureRequest) -> Iterator[str]:
    yield request.param


def run(module: str, *flags: str) -> Iterator[Running]:
    server = Running(module, list(flags))
    try:
        yield server
    finally:
        server.stop()


def test_help_lists_the_fault_flags(module: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, env=env(),
                         cwd=str(REPO_ROOT), timeout=30)
    assert out.returncode == 0
    for flag in FLAGS:
        assert flag in out.stdout, flag


def test_fail_status_with_retry_after(module: str) -> None:
    for server in run(module, "--fail-status", "429", "--retry-after", "7"):
        for _ in range(2):  # every request, not just the first
            r = server.post(module)
            assert r.status_code == 429 and r.headers["Retry-After"] == "7"
            assert r.json()["error"]


def test_delay_then_normal_answer(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for server in run(module, "--delay", "0.3"):  # the real process answers normally after the delay
        r = server.post(module)
        assert r.status_code == 200 and "Echo: hi" in r.text
    # the same command line in this process: every request takes the fault, whose delay is slept first
    fakes: List[Any] = []
    cli = importlib.import_module(module)
    monkeypatch.setattr(cli, "serve_until_signal", lambda fake: fakes.append(fake) or 0)
    assert cli.main(["--delay", "0.3"]) == 0
    [fake] = fakes
    taken: List[Optional[Any]] = []
    take = fake._take_fault
    monkeypatch.setattr(fake, "_take_fault", lambda path: taken.append(take(path)) or taken[-1])
    path, body, headers = FAKES[module]
    with fake:
        for _ in range(2):
            r = requests.post(f"{fake.url}{path}", json=body, headers=headers, timeout=10)
            assert r.status_code == 200 and "Echo: hi" in r.text
    assert [f.delay if f else None for f in taken] == [0.3, 0.3]


def test_malformed(module: str) -> None:
    for server in run(module, "--malformed"):
        r = server.post(module)
        assert r.status_code == 200
        with pytest.raises(ValueError):
            json.loads(r.text)


@pytest.mark.parametrize("flags, message", [
    (["--retry-after", "3"], "--retry-after needs --fail-status"),
    (["--fail-status", "429", "--malformed"], "exclude each other"),
    (["--fail-status", "42"], "must be an HTTP status"),
    (["--delay", "-1"], "must not be negative"),
])
def test_contradictory_flags_exit_2(module: str, flags: List[str], message: str) -> None:
    out = subprocess.run([sys.executable, "-m", module, *flags], capture_output=True, text=True, env=env(),
                         cwd=str(REPO_ROOT), timeout=30)
    assert out.returncode == 2 and message in out.stderr
