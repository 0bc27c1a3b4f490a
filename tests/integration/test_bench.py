"""bench on a real node: a fake DeepSeek with a concurrency cap of 2 under 8 callers (issue 25).

Zero failed calls (the refused ones are retried), every answer billed once by the fake's tally, every refused
call retried and counted, the figures printed; then nothing left behind.
"""

from __future__ import annotations

from typing import Any

from tests.integration.cli_helpers import CONNECTORS, Cli
from tests.integration.conftest import ours

CHAT = str(CONNECTORS / "deepseek-chat.yaml")
# ML Commons does not retry on its own (max_retry_times 0), so every retry is ours and counted in the JSON
OURS_ONLY = ("--set", "connector.client_config.max_retry_times=0")


def chat_requests(fake: Any) -> int:
    return sum(r.path.endswith("/chat/completions") for r in fake.requests)


def test_bench_under_a_concurrency_cap_fails_nothing_and_bills_each_answer_once(cli: Cli, clean_cluster: Any,
                                                                              fake_deepseek: Any) -> None:
    assert cli("up", CHAT, *OURS_ONLY).code == 0
    try:
        fake_deepseek.clear_requests()  # up's smoke probe was billed: count the bench only
        fake_deepseek.cap(2)
        fake_deepseek.slow(0.05)
        result = cli("bench", CHAT, *OURS_ONLY, "--concurrency", "8", "--requests", "200", "--no-direct", "--json",
                     timeout=600)
        assert result.code == 0, result
        assert "bench cluster: 200 calls through model" in result.err
        data = result.json()
        assert list(data["paths"]) == ["cluster"] and data["direct_note"] == ""
        cluster = data["paths"]["cluster"]
        assert (cluster["sent"], cluster["ok"], cluster["failed"], cluster["errors"]) == (200, 200, 0, {}), cluster
        # no answer was produced twice, the cap did refuse, and every refused call was retried: the retries count
        # the fake's refusals plus any refusal of the cluster itself (its thread pool), which never reaches the fake
        assert fake_deepseek.billed == 200
        assert fake_deepseek.refused > 0 and cluster["retries"] >= fake_deepseek.refused
        assert chat_requests(fake_deepseek) == fake_deepseek.billed + fake_deepseek.refused
        assert fake_deepseek.max_in_flight <= 2
        latency = cluster["latency_ms"]
        assert 50 <= latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
        assert sum(bucket["count"] for bucket in cluster["histogram"]) == 200
        check_direct_path_and_printed_figures(cli, fake_deepseek)
    finally:
        fake_deepseek.reset_faults()
        down = cli("down", CHAT)
        assert down.code == 0, down
    assert ours(clean_cluster) == []


def check_direct_path_and_printed_figures(cli: Cli, fake: Any) -> None:
    """The same load straight to the capped provider too (no retries there, so the cap shows in its error mix),
    billed per answer; then the figures as a terminal shows them."""
    fake.clear_requests()
    both = cli("bench", CHAT, *OURS_ONLY, "--concurrency", "4", "--requests", "20", "--json", timeout=300)
    assert both.code == 0, both
    paths = both.json()["paths"]
    assert paths["cluster"]["ok"] == 20 and paths["direct"]["sent"] == 20
    assert set(paths["direct"]["errors"]) <= {"UpstreamRateLimitError 429"}
    assert fake.billed == 20 + paths["direct"]["ok"]
    assert both.json()["direct_url"] == f"{fake.url}/chat/completions"
    text = cli("bench", CHAT, *OURS_ONLY, "--concurrency", "2", "--requests", "10", timeout=300)
    assert text.code == 0, text
    for shown in ("bench deepseek-chat (model ", "cluster: 10 sent, 10 ok, 0 failed",
                  f"direct to {fake.url}/chat/completions: 10 sent", "latency ms (answered calls): min",
                  " p50 ", " p99 ", " ms │", "cluster hop: p50 "):
        assert shown in text.out, text


def test_bench_limits_exit_2_before_any_call(cli: Cli, clean_cluster: Any, fake_deepseek: Any) -> None:
    for flags, limit in ((("--concurrency", "257", "--requests", "10"), "256"),
                         (("--concurrency", "8", "--requests", "10001"), "10000")):
        result = cli("bench", CHAT, *flags)
        assert result.code == 2, result
        assert limit in result.err and "the bench's limit" in result.err
    assert chat_requests(fake_deepseek) == 0


def test_bench_of_a_blueprint_that_is_not_provisioned_says_so(cli: Cli, clean_cluster: Any,
                                                               fake_deepseek: Any) -> None:
    result = cli("bench", CHAT, "--concurrency", "2", "--requests", "2")
    assert result.code == 1, result
    assert "deepseek-chat is not provisioned in this cluster" in result.err and "opensearch-llm up" in result.err
    assert chat_requests(fake_deepseek) == 0
