"""bench: nearest-rank percentiles, the histogram, the report, the load runner and the direct path (no cluster)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator, List

import pytest
from click.testing import CliRunner

from opensearch_llm.bench import MAX_CONCURRENCY, MAX_REQUESTS, BenchReport, Call, PathStats, percentile, run_bench
from opensearch_llm.bench.direct import DirectSender, direct_request
from opensearch_llm.bench.report import BLOCKS, bar, buckets, histogram
from opensearch_llm.bench.run import run_load
from opensearch_llm.bench.stats import MeasuredLatency
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import InvalidInputError, UpstreamRateLimitError
from opensearch_llm.testing import FakeDeepSeek

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-bench-test-0123456789"


def blueprint(name: str = "deepseek-chat", base_url: str = "http://127.0.0.1:9", key: str = KEY) -> Any:
    env = {"DEEPSEEK_API_KEY": key, "DEEPSEEK_BASE_URL": base_url, "OLLAMA_BASE_URL": base_url}
    return load_blueprint(ROOT / "connectors" / f"{name}.yaml", env=env, env_file=False)


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


# --- percentiles and latency figures -----------------------------------------------------------------------------
@pytest.mark.parametrize("values, p, expected", [
    ([15, 20, 35, 40, 50], 5, 15), ([15, 20, 35, 40, 50], 30, 20), ([15, 20, 35, 40, 50], 40, 20),
    ([15, 20, 35, 40, 50], 50, 35), ([15, 20, 35, 40, 50], 100, 50), ([15, 20, 35, 40, 50], 0, 15),
    (list(range(1, 11)), 90, 9), (list(range(1, 11)), 99, 10), (list(range(1, 101)), 99, 99),
    (list(range(1, 101)), 50, 50), (list(range(1, 1001)), 99.9, 999), ([7.5], 99, 7.5),
])
def test_percentile_is_nearest_rank(values: List[float], p: float, expected: float) -> None:
    assert percentile(values, p) == expected


@pytest.mark.parametrize("values, p", [([], 50), ([1.0], -1), ([1.0], 100.5)])
def test_percentile_refuses_nonsense(values: List[float], p: float) -> None:
    with pytest.raises(ValueError):
        percentile(values, p)


def test_latency_figures() -> None:
    assert MeasuredLatency.of([]) is None
    figures = MeasuredLatency.of([40.0, 10.0, 30.0, 20.0])
    assert figures == MeasuredLatency(min=10.0, p50=20.0, p90=40.0, p99=40.0, max=40.0, mean=25.0)


# --- histogram ----------------------------------------------------------------------------------------------------
def test_buckets_cover_min_to_max() -> None:
    values = [float(v) for v in range(100)]
    rows = buckets(values)
    assert len(rows) == 10 and sum(n for _l, _h, n in rows) == 100
    assert rows[0][0] == 0.0 and rows[-1][1] == 99.0 and rows[-1][2] == 10  # the maximum lands in the last
    assert buckets([5.0, 5.0, 5.0]) == [(5.0, 5.0, 3)] and buckets([]) == []


def test_bar_in_eighths() -> None:
    assert bar(10, 10, 4) == "████" and bar(5, 10, 4) == "██" and bar(0, 10, 4) == ""
    assert bar(1, 80, 4) == BLOCKS[0]  # a count above zero is never invisible
    assert bar(3, 16, 4) == "▊"  # 3/16 of 32 eighths = 6 eighths


def test_histogram_fits_the_width_and_shows_every_bucket() -> None:
    millis = [10.0] * 50 + [55.0] * 5 + [100.0]
    lines = histogram(millis, width=60)
    assert len(lines) == 10 and all(len(line) <= 60 for line in lines)
    assert lines[0].endswith("│ 50") and "█" in lines[0] and lines[-1].endswith("│  1")
    assert lines[0].startswith("   10.0 –  19.0 ms │") and lines[-1].startswith("   91.0 – 100.0 ms │")
    assert sum(int(line.rsplit("│", 1)[1]) for line in lines) == 56
    assert histogram([], 60) == []


# --- the report ----------------------------------------------------------------------------------------------------
def calls(ok_ms: List[float], errors: int = 0, retries: int = 0) -> List[Call]:
    answered = [Call(seconds=ms / 1000, retries=retries) for ms in ok_ms]
    return answered + [Call(seconds=0.001, kind="UpstreamRateLimitError 429", message="too many")] * errors


def report() -> BenchReport:
    out = BenchReport(blueprint="deepseek-chat", model_id="m-1", requests=12, concurrency=4)
    out.paths["cluster"] = PathStats.from_calls("cluster", calls([30.0] * 10 + [60.0, 90.0], retries=1), 2.0)
    out.paths["direct"] = PathStats.from_calls("direct", calls([10.0] * 9, errors=3), 1.0)
    out.direct_url = "http://127.0.0.1:9/chat/completions"
    return out


def test_path_stats_from_calls() -> None:
    stats = report().paths["direct"]
    assert (stats.sent, stats.ok, stats.failed, stats.retries) == (12, 9, 3, 0)
    assert stats.errors == {"UpstreamRateLimitError 429": 3} and stats.examples["UpstreamRateLimitError 429"] \
        == "too many"
    assert stats.millis == [10.0] * 9 and stats.throughput == 12.0  # latency of the answered calls only


def test_report_to_dict_shape() -> None:
    data = json.loads(json.dumps(report().to_dict()))  # JSON-ready
    assert set(data) == {"blueprint", "model_id", "requests", "concurrency", "paths", "direct_url", "direct_note",
                         "cluster_p50_over_direct_p50"}
    cluster = data["paths"]["cluster"]
    assert set(cluster) == {"sent", "ok", "failed", "errors", "error_examples", "retries", "wall_seconds",
                            "throughput_per_second", "latency_ms", "histogram"}
    assert cluster["retries"] == 12 and cluster["latency_ms"] == {"min": 30.0, "p50": 30.0, "p90": 60.0,
                                                                  "p99": 90.0, "max": 90.0, "mean": 37.5}
    assert sum(b["count"] for b in cluster["histogram"]) == 12 and data["cluster_p50_over_direct_p50"] == 3.0
    assert data["paths"]["direct"]["errors"] == {"UpstreamRateLimitError 429": 3}


def test_render_shows_each_path_its_histogram_and_the_hop() -> None:
    text = report().render(80)
    assert text.startswith("bench deepseek-chat (model m-1): 12 calls per path, 4 at a time")
    assert "cluster: 12 sent, 12 ok, 0 failed, 12 retries, 2.00 s, 6.0 calls/s" in text
    assert "direct to http://127.0.0.1:9/chat/completions: 12 sent, 9 ok, 3 failed" in text
    assert "p50 30.0  p90 60.0  p99 90.0" in text and "3 x UpstreamRateLimitError 429: too many" in text
    assert "cluster hop: p50 30.0 ms through the cluster vs 10.0 ms direct = 3.00x" in text
    assert text.count("│") >= 2 * 11 and all(len(line) <= 80 for line in text.splitlines() if "│" in line)


def test_render_without_answers_or_direct_path() -> None:
    out = BenchReport(blueprint="b", model_id="m", requests=2, concurrency=1, direct_note="it cannot be rendered")
    out.paths["cluster"] = PathStats.from_calls("cluster", calls([], errors=2), 0.5)
    text = out.render()
    assert "latency" not in text and "cluster hop" not in text and "direct: not run: it cannot be rendered" in text
    assert out.to_dict()["paths"]["cluster"]["latency_ms"] is None and out.hop_ratio() is None


# --- running the load ----------------------------------------------------------------------------------------------
class CountingPredict:
    """A predict stand-in: sleeps, tracks the concurrency, refuses every fifth call with a 429."""

    def __init__(self) -> None:
        self.lock, self.now, self.most, self.seen = threading.Lock(), 0, 0, []

    def __call__(self, client: Any, bp: Any, message: str, *, model_id: str) -> Any:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)
            self.seen.append((message, model_id))
            n = len(self.seen)
        try:
            time.sleep(0.02)
            if n % 5 == 0:
                raise UpstreamRateLimitError("rate limited by the LLM provider (429): slow down", status=429)
            return SimpleNamespace(text="pong", retries=2 if n % 2 else 0)
        finally:
            with self.lock:
                self.now -= 1


def test_run_bench_with_injected_predict_and_direct_sender() -> None:
    fake, direct_calls, progress = CountingPredict(), [], []
    out = run_bench(None, blueprint(), concurrency=4, requests=20, message="hi", predict=fake, model_id="m-9",
                    direct_send=lambda: direct_calls.append(1) or 0, on_progress=progress.append)
    cluster, direct = out.paths["cluster"], out.paths["direct"]
    assert (cluster.sent, cluster.ok, cluster.errors) == (20, 16, {"UpstreamRateLimitError 429": 4})
    assert cluster.retries == 16 and 1 < fake.most <= 4 and set(fake.seen) == {("hi", "m-9")}
    assert cluster.examples["UpstreamRateLimitError 429"].startswith("rate limited by the LLM provider (429)")
    assert (direct.sent, direct.ok, len(direct_calls)) == (20, 20, 20)
    assert progress == ["cluster: 20 calls through model m-9, 4 at a time", "direct: 20 calls to the provider, "
                        "4 at a time"]
    assert min(cluster.millis) >= 20.0


def test_run_bench_no_direct_and_a_predict_without_retries() -> None:
    out = run_bench(None, blueprint(), concurrency=2, requests=3, direct=False, model_id="m",
                    predict=lambda *a, **k: object())
    assert list(out.paths) == ["cluster"] and out.paths["cluster"].ok == 3 and out.paths["cluster"].retries == 0


@pytest.mark.parametrize("concurrency, requests, limit", [
    (8, MAX_REQUESTS + 1, "between 1 and 10000"), (MAX_CONCURRENCY + 1, 10, "between 1 and 256"),
    (0, 10, "between 1 and 256"), (4, 0, "between 1 and 10000"),
])
def test_limits_are_checked_before_any_call(concurrency: int, requests: int, limit: str) -> None:
    def never(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("no call may be made")

    with pytest.raises(InvalidInputError, match=limit) as raised:
        run_bench(None, blueprint(), concurrency=concurrency, requests=requests, predict=never)
    assert raised.value.exit_code == 2


def test_run_load_keeps_the_order_and_records_unexpected_errors() -> None:
    seen = iter(range(3))

    def send() -> int:
        if next(seen) == 1:
            raise KeyError("boom")
        return 0

    got, wall = run_load(send, requests=3, concurrency=1)
    assert [c.kind for c in got] == ["ok", "KeyError", "ok"] and wall > 0


# --- the direct path -----------------------------------------------------------------------------------------------
def test_direct_request_renders_the_predict_action_with_the_secret_hidden() -> None:
    request, why = direct_request(blueprint(), 'say "pong"')
    assert why == "" and request is not None
    assert request.method == "POST" and request.url == "http://127.0.0.1:9/chat/completions" == request.shown_url
    assert request.headers["Authorization"] == f"Bearer {KEY}" and KEY not in repr(request)
    body = json.loads(request.body)
    assert body["messages"] == [{"role": "user", "content": 'say "pong"'}] and body["model"] == "deepseek-flash"
    assert body["thinking"] == {"type": "disabled"}


def test_direct_request_is_not_rendered_past_a_pre_process_function() -> None:
    request, why = direct_request(blueprint("ollama-embed"), "hello")
    assert request is None and "pre_process_function" in why


def test_direct_sender_against_a_capped_fake(ds: FakeDeepSeek) -> None:
    ds.cap(1, retry_after=1)
    ds.slow(0.2)
    request, _why = direct_request(blueprint(base_url=ds.url), "ping")
    sender = DirectSender(request, timeout=10)
    try:
        got, _wall = run_load(sender, requests=6, concurrency=3)
    finally:
        sender.close()
    kinds = {c.kind for c in got}
    assert kinds == {"ok", "UpstreamRateLimitError 429"}, got
    assert ds.billed == sum(c.ok for c in got) and ds.refused == 6 - ds.billed and ds.max_in_flight == 1
    refused = next(c for c in got if not c.ok)
    assert "too many concurrent requests" in refused.message


def test_direct_sender_failures_are_named_and_masked(ds: FakeDeepSeek) -> None:
    wrong = blueprint(base_url=ds.url, key="sk-wrong-key-9876543210")
    request, _why = direct_request(wrong, "ping")
    [call] = run_load(DirectSender(request, timeout=10), requests=1, concurrency=1)[0]
    assert call.kind == "UpstreamAuthError 401" and "sk-wrong-key-9876543210" not in call.message
    ds.stop()
    request, _why = direct_request(blueprint(base_url=ds.url), "ping")
    [call] = run_load(DirectSender(request, timeout=10), requests=1, concurrency=1)[0]
    assert call.kind == "UpstreamUnreachableError" and "Connection refused" in call.message


def test_run_bench_sends_the_direct_load_to_the_provider(ds: FakeDeepSeek) -> None:
    out = run_bench(None, blueprint(base_url=ds.url), concurrency=2, requests=4, model_id="m",
                    predict=lambda *a, **k: object())
    assert out.paths["direct"].ok == 4 and out.direct_url == f"{ds.url}/chat/completions"
    assert ds.billed == 4 and [r.json["messages"] for r in ds.requests] == [[{"role": "user", "content": "ping"}]] * 4


# --- the command ---------------------------------------------------------------------------------------------------
@pytest.fixture()
def bench_cli(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bench command with api.bench answered by run_bench on an injected predict (no cluster)."""
    from opensearch_llm import api
    from opensearch_llm.cli.bench_cmds import bench

    failing = {"every": 0}

    def fake_bench(client: Any, bp: Any, **kwargs: Any) -> BenchReport:
        def predict(*_a: Any, **_k: Any) -> Any:
            if failing["every"]:
                raise UpstreamRateLimitError("rate limited", status=429)
            return SimpleNamespace(retries=1)
        return run_bench(client, bp, predict=predict, model_id="m-1", direct_send=lambda: 0, **kwargs)

    monkeypatch.setattr(api, "bench", fake_bench, raising=False)
    monkeypatch.setenv("DEEPSEEK_API_KEY", KEY)
    monkeypatch.setenv("DEEPSEEK_BASE_URL", "http://127.0.0.1:9")
    return SimpleNamespace(command=bench, failing=failing)


def invoke(bench_cli: Any, *args: str) -> Any:
    return CliRunner().invoke(bench_cli.command, [str(ROOT / "connectors" / "deepseek-chat.yaml"),
                                                  "--url", "http://127.0.0.1:9", *args])


def test_bench_command_json_and_text(bench_cli: Any) -> None:
    result = invoke(bench_cli, "-c", "2", "-n", "5", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["paths"]["cluster"]["ok"] == 5 and data["paths"]["cluster"]["retries"] == 5
    assert "bench cluster: 5 calls through model m-1, 2 at a time" in result.stderr
    text = invoke(bench_cli, "-c", "2", "-n", "5", "--no-direct")
    assert text.exit_code == 0 and "cluster: 5 sent, 5 ok" in text.stdout and "direct" not in text.stdout


def test_bench_command_exit_codes(bench_cli: Any) -> None:
    too_many = invoke(bench_cli, "-c", "2", "-n", "20000")
    assert isinstance(too_many.exception, InvalidInputError) and too_many.exception.exit_code == 2
    assert "between 1 and 10000" in str(too_many.exception)
    bench_cli.failing["every"] = 1
    failed = invoke(bench_cli, "-c", "2", "-n", "3", "--no-direct")
    assert failed.exception is not None and "3 of 3 calls through the cluster failed" in str(failed.exception)
    assert "3 x UpstreamRateLimitError 429: rate limited" in failed.stdout  # the figures come first
