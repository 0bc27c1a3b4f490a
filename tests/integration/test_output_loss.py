"""All or nothing when the output goes away (issue 23): ``up | head -N``, SIGHUP and SIGTERM at every step.

Every run ends fully provisioned (DEPLOYED) or with nothing of ours and the settings as before; after the
``down`` that follows, the profile API lists no model without a document (a ghost deployment).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

import pytest

from tests.integration.cli_helpers import Cli
from tests.integration.conftest import ours, persistent_settings, served_without_document


def _env(cli: Cli) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))}
    env.update(cli.env)
    return env


def _all_or_nothing(client: Any, before: dict, what: str) -> str:
    found = ours(client)
    if not found:
        assert persistent_settings(client) == before, f"{what}: nothing of ours, but the settings changed"
        return "nothing"
    kinds = sorted(r["kind"] for r in found)
    assert kinds == ["connector", "model", "model_group"], f"{what}: half-done: {found}"
    # by id: a search shows DEPLOYED only after the next refresh on 2.19
    model_id = next(r["id"] for r in found if r["kind"] == "model")
    state = client.transport.perform_request("GET", f"/_plugins/_ml/models/{model_id}").get("model_state")
    assert state == "DEPLOYED", f"{what}: {state}: {found}"
    return "provisioned"


def _down_and_check(cli: Cli, client: Any, before: dict, what: str, ghosts: set) -> None:
    down = cli("down", "deepseek-chat")
    assert down.code == 0, f"{what}: {down}"
    assert ours(client) == [] and persistent_settings(client) == before, what
    new = served_without_document(client) - ghosts  # one an earlier test left is not this run's
    assert not new, f"{what}: served with no model document (a ghost deployment): {sorted(new)}"


def _lines(cli: Cli, client: Any, before: dict, ghosts: set, *args: str) -> int:
    full = cli("up", "deepseek-chat", *args)
    assert full.code == 0, full
    _down_and_check(cli, client, before, "counting lines", ghosts)
    return len((full.out + full.err).splitlines())


@pytest.mark.parametrize("smoke", [True, False], ids=["smoke", "no-smoke"])
def test_up_piped_into_head_never_stops_half_way(smoke: bool, cli: Cli, clean_cluster: Any) -> None:
    args = () if smoke else ("--no-smoke",)
    before = persistent_settings(clean_cluster)
    ghosts = served_without_document(clean_cluster)
    total = _lines(cli, clean_cluster, before, ghosts, *args)
    outcomes = []
    for n in range(1, total + 1):
        command = " ".join([sys.executable, "-m", "opensearch_llm", "up", "deepseek-chat", *args])
        subprocess.run(["bash", "-c", f"{command} 2>&1 | head -{n} >/dev/null"], cwd=cli.cwd, env=_env(cli),
                       timeout=180, check=False)
        outcomes.append(_all_or_nothing(clean_cluster, before, f"up | head -{n}"))
        _down_and_check(cli, clean_cluster, before, f"up | head -{n}", ghosts)
    assert outcomes, "no line was counted"


STEPS = ("model group", "settings", "connector", "model", "deploy")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["HUP", "TERM"])
@pytest.mark.parametrize("step", STEPS)
def test_a_signal_at_any_step_rolls_back_or_finishes(sig: int, step: str, cli: Cli, clean_cluster: Any) -> None:
    before = persistent_settings(clean_cluster)
    ghosts = served_without_document(clean_cluster)
    proc = subprocess.Popen([sys.executable, "-m", "opensearch_llm", "up", "deepseek-chat"], cwd=cli.cwd,
                            env=_env(cli), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.split()[1:3] and " ".join(line.split()[1:1 + len(step.split())]) == step:
            proc.send_signal(sig)
            break
    out, err = proc.communicate(timeout=120)
    assert proc.returncode in (0, 130), f"{step}: exit {proc.returncode}\n{out}\n{err}"
    outcome = _all_or_nothing(clean_cluster, before, f"{sig} after {step}")
    if proc.returncode == 130 and outcome == "nothing":
        assert "rolled back this run" in err, err
    _down_and_check(cli, clean_cluster, before, f"{sig} after {step}", ghosts)
