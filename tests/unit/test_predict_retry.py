"""A refused predict that cannot have been billed is retried with backoff until the deadline; nothing else is
(issue 25). Against the ML Commons double, with a clock that the injected sleep advances."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import ClusterError, UpstreamError, UpstreamRateLimitError
from opensearch_llm.resources import predict as predict_api
from opensearch_llm.lifecycle.events import RunOptions
from tests.unit.ml_double import MLDouble, remote_error

ROOT = Path(__file__).resolve().parents[2]

PREDICT = r"/_predict$"
THROTTLED = {"error": {"root_cause": [{"type": "status_exception", "reason": "Request is throttled at model level."}],
                       "type": "status_exception", "reason": "Request is throttled at model level."}, "status": 429}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def model_id(double: MLDouble, client, tmp_path) -> str:
    blueprint = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                               env={"DEEPSEEK_API_KEY": "sk-unit-retry-secret-0425"})
    options = RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)
    return api.up(client, blueprint, options=options, smoke=False).provisioned.ids["model"]


def _predict(client, model_id: str, clock: Clock, timeout: float = 30.0) -> predict_api.Prediction:
    return predict_api.predict(client, model_id, {"messages": []}, timeout, sleep=clock.sleep, clock=clock)


def test_an_upstream_429_is_retried_with_growing_jittered_pauses(double: MLDouble, client, model_id: str) -> None:
    clock = Clock()
    double.fail_status("POST", PREDICT, 429, body=remote_error(429, "too many concurrent requests"), times=3)
    result = _predict(client, model_id, clock)
    assert result.retries == 3 and double.count("POST", PREDICT) == 4
    assert len(clock.sleeps) == 3 and all(0.1 <= s <= 8.0 for s in clock.sleeps)
    assert clock.sleeps[2] >= 0.5, "the ceiling doubles: the third pause is drawn from [0.5, 1.0]"


def test_ml_commons_throttling_is_retried_until_the_deadline_then_named(double: MLDouble, client,
                                                                       model_id: str) -> None:
    clock = Clock()
    double.fail_status("POST", PREDICT, 429, body=THROTTLED, times=None)
    with pytest.raises(ClusterError) as raised:
        _predict(client, model_id, clock, timeout=20.0)
    assert clock.now - 1000.0 <= 20.0, "never past the predict deadline"
    assert double.count("POST", PREDICT) >= 5
    assert "throttled" in raised.value.message and "refused" in raised.value.message
    assert "rate_limiter" in (raised.value.hint or "")


def test_a_rate_limit_that_outlasts_the_deadline_says_how_often_it_was_refused(double: MLDouble, client,
                                                                              model_id: str) -> None:
    clock = Clock()
    double.fail_status("POST", PREDICT, 429, body=remote_error(429, "slow down"), times=None)
    with pytest.raises(UpstreamRateLimitError) as raised:
        _predict(client, model_id, clock, timeout=5.0)
    assert f"refused {double.count('POST', PREDICT)} times" in raised.value.message


@pytest.mark.parametrize("fault", ["upstream 500", "timeout"])
def test_anything_that_may_have_produced_an_answer_is_sent_once(double: MLDouble, client, model_id: str,
                                                                fault: str) -> None:
    clock = Clock()
    if fault == "timeout":
        double.fail_timeout("POST", PREDICT)
    else:
        double.fail_status("POST", PREDICT, 500, body=remote_error(500, "internal"))
    with pytest.raises((UpstreamError, ClusterError)):
        _predict(client, model_id, clock)
    assert double.count("POST", PREDICT) == 1 and clock.sleeps == []


def test_a_retry_after_from_the_cluster_is_honoured(double: MLDouble, client, model_id: str) -> None:
    clock = Clock()
    double.fail_status("POST", PREDICT, 429, body=THROTTLED, headers={"Retry-After": "3"}, times=1)
    assert _predict(client, model_id, clock).retries == 1
    assert clock.sleeps == [3.0]
