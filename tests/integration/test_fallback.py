"""Fallback and retries on real nodes (issue 25): a primary whose provider refuses connections hands over to
its fallback, and says so; a primary that times out does not (the call may have been billed); a dead fallback
fails smoke, naming it; ML Commons' rate limiter set low throttles calls that predict retries, not fails."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from opensearch_llm.testing.fake_deepseek import FakeDeepSeek
from tests.integration.cli_helpers import CONNECTORS, Cli

BASE_URL = "${env:DEEPSEEK_BASE_URL:-https://api.deepseek.com}"


def _closed_port() -> int:
    with socket.socket() as sock:  # bound, then closed: nothing listens there, a connect is refused
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write(directory: Path, name: str, *, fallback: str = "", base_url: str = "", extra: str = "") -> str:
    text = (CONNECTORS / "deepseek-chat.yaml").read_text().replace("deepseek-chat", name)
    if base_url:
        assert BASE_URL in text
        text = text.replace(BASE_URL, base_url)
    path = directory / f"{name}.yaml"
    path.write_text(text + (f"\nfallback: [{fallback}]\n" if fallback else "") + extra)
    return str(path)


def test_a_primary_that_refuses_connections_hands_over_to_its_fallback(cli: Cli, clean_cluster: Any,
                                                                       fake_deepseek: Any, tmp_path: Path) -> None:
    backup = _write(tmp_path, "fb-backup")
    primary = _write(tmp_path, "fb-primary", fallback="fb-backup", base_url=f"http://127.0.0.1:{_closed_port()}")
    assert cli("up", backup).code == 0
    try:
        up = cli("up", primary, "--no-smoke", "--no-preflight")
        assert up.code == 0, up
        fake_deepseek.clear_requests()
        answered = cli("predict", primary, "--message", "pong", "--json")
        assert answered.code == 0, answered
        result = answered.json()
        assert result["blueprint"] == "fb-backup" and result["text"] == "pong"
        assert [a["blueprint"] for a in result["attempts"]] == ["fb-primary"]
        assert result["attempts"][0]["reason"] == "the provider could not be reached", result["attempts"]
        assert "answered by fb-backup" in answered.err and "fb-primary did not answer" in answered.err
        assert len(fake_deepseek.requests) == 1, "the fallback was asked exactly once"
        alone = cli("predict", primary, "--message", "pong", "--no-fallback")
        assert alone.code != 0 and "could not reach" in alone.err, alone
    finally:
        assert cli("down", primary).code == 0
        assert cli("down", backup).code == 0


@pytest.mark.parametrize("timeout", ["predict.timeout", "connector read_timeout"])
def test_a_primary_that_times_out_is_never_followed_by_its_fallback(cli: Cli, clean_cluster: Any, fake_deepseek: Any,
                                                                    tmp_path: Path, timeout: str) -> None:
    """Ours (the cluster did not answer within predict.timeout) or ML Commons' (the connector's read_timeout,
    "Read timed out"): the call may have run and been billed, so no other model is asked."""
    shorter = (("--set", "connector.client_config.read_timeout=2") if timeout.startswith("connector")
               else ("--set", "predict.timeout=4s"))
    with FakeDeepSeek(api_key=fake_deepseek.api_key) as slow:
        slow.slow(20.0, path_contains="chat")
        backup = _write(tmp_path, "fb-backup")
        primary = _write(tmp_path, "fb-primary", fallback="fb-backup", base_url=slow.url)
        assert cli("up", backup).code == 0
        try:
            assert cli("up", primary, "--no-smoke", "--no-preflight", *shorter).code == 0
            fake_deepseek.clear_requests()
            timed_out = cli("predict", primary, "--message", "hi", *shorter)
            assert timed_out.code != 0 and "may have run" in timed_out.err or "may still have run" in timed_out.err, \
                timed_out
            expected = "read_timeout" if timeout.startswith("connector") else "did not answer within 4 s"
            assert expected in timed_out.err and "fb-primary may have produced an answer" in timed_out.err, timed_out
            assert fake_deepseek.requests == [], "the fallback was asked after a timeout"
            assert len([r for r in slow.requests if r.path.endswith("/chat/completions")]) == 1, "resent"
        finally:
            slow.reset_faults()
            assert cli("down", primary).code == 0
            assert cli("down", backup).code == 0


def test_smoke_of_a_blueprint_whose_fallback_is_dead_fails_naming_it(cli: Cli, clean_cluster: Any,
                                                                     tmp_path: Path) -> None:
    dead = _write(tmp_path, "fb-dead", base_url=f"http://127.0.0.1:{_closed_port()}")
    primary = _write(tmp_path, "fb-primary", fallback="fb-dead")
    assert cli("up", dead, "--no-smoke", "--no-preflight").code == 0
    try:
        report = tmp_path / "smoke.xml"
        smoked = cli("smoke", primary, "--junit", str(report), "--json")
        assert smoked.code != 0, smoked
        run = smoked.json()["runs"][0]
        assert not run["ok"] and "fallback fb-dead" in run["error"], run
        assert "fallback fb-dead" in report.read_text()
        assert run["teardown"]["clean"], run["teardown"]
    finally:
        assert cli("down", dead).code == 0


def test_calls_throttled_by_a_low_rate_limiter_are_retried_not_failed(cli: Cli, clean_cluster: Any,
                                                                      fake_deepseek: Any) -> None:
    from opensearch_llm import api
    from opensearch_llm.blueprint import load_blueprint

    limited = ("--set", "model.rate_limiter={limit: '4', unit: SECONDS}")
    assert cli("up", "deepseek-chat", *limited).code == 0
    try:
        blueprint = load_blueprint(CONNECTORS / "deepseek-chat.yaml", env_file=False,
                                   env={"DEEPSEEK_API_KEY": fake_deepseek.api_key,
                                        "DEEPSEEK_BASE_URL": fake_deepseek.url})
        client = clean_cluster
        model_id = api.model_id_of(client, blueprint)
        fake_deepseek.clear_requests()
        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: api.predict(client, blueprint, f"pong {i}", model_id=model_id,
                                                          fallbacks=()), range(32)))
        assert [r.text for r in results] == ["pong"] * 32
        assert sum(r.retries for r in results) > 0, "nothing was throttled: the limiter is not low enough"
        assert len(fake_deepseek.requests) == 32, "a throttled call reached the provider, or one was lost"
    finally:
        assert cli("down", "deepseek-chat").code == 0


def test_doctor_checks_each_fallback_the_blueprint_names(cli: Cli, clean_cluster: Any, tmp_path: Path) -> None:
    _write(tmp_path, "fb-dead", base_url=f"http://127.0.0.1:{_closed_port()}")
    primary = _write(tmp_path, "fb-primary", fallback="fb-dead")
    checked = cli("doctor", primary, "--no-preflight")
    assert checked.code == 1, checked
    assert "fb-primary: blueprint" in checked.out and "fb-dead: blueprint" in checked.out, checked
    rows = checked.out.splitlines()
    assert any(r.startswith("FAIL") and "fb-dead: upstream" in r and "Connection refused" in r for r in rows), checked
    assert any(r.startswith("PASS") and "fb-primary: upstream" in r for r in rows), checked
