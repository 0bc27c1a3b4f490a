"""Fallback (issue 25): the next blueprint's model answers only when the failure proves no answer was produced;
never after a timeout. Against the ML Commons double; the blueprints are written next to each other."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint, load_fallbacks
from opensearch_llm.errors import (
    BlueprintError, ClusterError, NotProvisionedError, UpstreamAuthError, UpstreamError, UpstreamRateLimitError,
    UpstreamTimeoutError, UpstreamUnreachableError,
)
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.fallback import probe_fallbacks, unanswered
from tests.unit.ml_double import MLDouble, remote_error

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-unit-fallback-secret-7731"}
REFUSED = {"error": {"reason": "Error communicating with remote model: Connection refused"}, "status": 500}
TIMED_OUT = {"error": {"reason": "Error communicating with remote model: Read timed out"}, "status": 500}


def _write(directory: Path, name: str, fallback: str = "") -> Path:
    text = (ROOT / "connectors" / "deepseek-chat.yaml").read_text()
    text = text.replace("deepseek-chat", name)
    path = directory / f"{name}.yaml"
    path.write_text(text + (f"\nfallback: [{fallback}]\n" if fallback else ""))
    return path


@pytest.fixture
def pair(tmp_path: Path):
    _write(tmp_path, "backup")
    primary = load_blueprint(_write(tmp_path, "primary", "backup"), env=ENV, env_file=False)
    return primary, load_fallbacks(primary, env=ENV, env_file=False)


@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)


def _up(client, options, *blueprints) -> list[str]:
    return [api.up(client, bp, options=options, smoke=False).provisioned.ids["model"] for bp in blueprints]


@pytest.mark.parametrize("error, moves_on", [
    (UpstreamUnreachableError("OpenSearch could not reach the LLM provider: Connection refused"), True),
    (UpstreamTimeoutError("the LLM provider did not answer within the connector's read_timeout"), False),
    (UpstreamRateLimitError("rate limited", status=429), True),
    (UpstreamError("the LLM provider failed (503): overloaded", status=503), True),
    (UpstreamError("the LLM provider failed (400): bad request", status=400), False),
    (UpstreamAuthError("authentication failed", status=401), False),
    (ClusterError("Request is throttled at model level.", status=429), True),
    (ClusterError("the cluster did not answer within 5 s; the model call may still have run"), False),
    (NotProvisionedError("backup is not provisioned in this cluster"), True),
])
def test_only_a_failure_that_proves_no_answer_moves_on(error, moves_on: bool) -> None:
    assert (unanswered(error) is not None) is moves_on


def test_a_refused_connection_moves_on_to_the_fallback_and_says_so(double: MLDouble, client, options, pair) -> None:
    primary, fallbacks = pair
    first, second = _up(client, options, primary, *fallbacks)
    double.fail_status("POST", rf"/models/{first}/_predict$", 500, body=REFUSED)
    heard: list = []
    result = api.predict(client, primary, "hi", fallbacks=fallbacks, on_fallback=heard.append)
    assert result.blueprint == "backup" and result.model_id == second
    assert [a["blueprint"] for a in result.attempts] == ["primary"] and heard[0]["next"] == "backup"
    assert "could not be reached" in result.attempts[0]["reason"]
    assert result.to_dict()["attempts"] == result.attempts


def test_a_timeout_never_asks_the_fallback(double: MLDouble, client, options, pair) -> None:
    primary, fallbacks = pair
    first, second = _up(client, options, primary, *fallbacks)
    double.fail_status("POST", rf"/models/{first}/_predict$", 500, body=TIMED_OUT)
    with pytest.raises(UpstreamTimeoutError) as raised:
        api.predict(client, primary, "hi", fallbacks=fallbacks)
    assert "Read timed out" in raised.value.message and "may have run" in raised.value.message
    assert double.count("POST", rf"/models/{second}/_predict$") == 0, "the fallback was asked after a timeout"


def test_when_every_model_fails_the_last_error_carries_the_earlier_ones(double: MLDouble, client, options,
                                                                       pair) -> None:
    primary, fallbacks = pair
    first, second = _up(client, options, primary, *fallbacks)
    double.fail_status("POST", rf"/models/{first}/_predict$", 500, body=REFUSED)
    double.fail_status("POST", rf"/models/{second}/_predict$", 502, body=remote_error(502, "bad gateway"))
    with pytest.raises(UpstreamError) as raised:
        api.predict(client, primary, "hi", fallbacks=fallbacks)
    notes = getattr(raised.value, "__notes__", [])
    assert any("primary did not answer" in n for n in notes) and any("every fallback failed" in n for n in notes)


def test_a_fallback_that_is_not_provisioned_fails_its_smoke_check(double: MLDouble, client, options, pair) -> None:
    primary, fallbacks = pair
    _up(client, options, primary)
    [check] = probe_fallbacks(client, fallbacks, options)
    assert not check.ok and check.name == "fallback backup" and "up" in check.failures[0]


def test_a_fallback_that_names_nothing_or_itself_is_bad_input_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(BlueprintError) as missing:
        load_blueprint(_write(tmp_path, "lonely", "nowhere-to-be-found"), env=ENV, env_file=False)
    assert "fallback" in str(missing.value) and "nowhere-to-be-found" in str(missing.value)
    assert "lonely.yaml:" in str(missing.value)
    with pytest.raises(BlueprintError) as itself:
        load_blueprint(_write(tmp_path, "selfish", "selfish"), env=ENV, env_file=False)
    assert "its own fallback" in str(itself.value)


def test_doctor_checks_the_fallbacks_a_blueprint_names_each_once(tmp_path: Path) -> None:
    from opensearch_llm.blueprint.fallbacks import with_fallbacks

    backup = _write(tmp_path, "backup")
    primary = _write(tmp_path, "primary", "backup")
    assert [Path(p).name for p in with_fallbacks([str(primary)])] == ["primary.yaml", "backup.yaml"]
    assert [Path(p).name for p in with_fallbacks([str(primary), str(backup)])] == ["primary.yaml", "backup.yaml"]
