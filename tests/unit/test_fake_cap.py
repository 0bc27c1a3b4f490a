"""The fakes' concurrency cap (DeepSeek's per-account cap): 429 at once beyond it, and a tally of billed vs refused."""

from __future__ import annotations

import importlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator, List, Optional

import pytest
import requests

from opensearch_llm.testing import FakeDeepSeek, FakeOllama
from opensearch_llm.testing._cap import CAP_MESSAGE, ConcurrencyCap

openai = pytest.importorskip("openai")

KEY = "sk-cap-test-0123456789"
ASK = [{"role": "user", "content": "hi"}]
NO_THINKING = {"thinking": {"type": "disabled"}}


@pytest.fixture()
def ds() -> Iterator[FakeDeepSeek]:
    with FakeDeepSeek(api_key=KEY) as server:
        yield server


def burst(url: str, count: int) -> List[Any]:
    """``count`` chat calls through the openai SDK at once (no SDK retries); each result or the exception raised."""
    client = openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=30)
    start = threading.Barrier(count)

    def one(_i: int) -> Any:
        start.wait()
        try:
            return client.chat.completions.create(model="deepseek-flash", messages=ASK, extra_body=NO_THINKING)
        except openai.APIError as exc:
            return exc

    with client, ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def test_cap_2_under_8_concurrent_slow_calls(ds: FakeDeepSeek) -> None:
    ds.cap(2)
    ds.slow(0.5)
    results = burst(ds.url, 8)
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    answered = [r for r in results if not isinstance(r, Exception)]
    assert len(refused) + len(answered) == 8, results  # nothing else went wrong
    assert refused and len(answered) >= 2
    for exc in refused:
        assert exc.status_code == 429 and "retry-after" not in exc.response.headers
        assert exc.body["message"] == CAP_MESSAGE and exc.body["code"] == "rate_limit_exceeded"
    assert ds.billed == len(answered) and ds.refused == len(refused)
    assert ds.billed + ds.refused == 8 and ds.max_in_flight == 2
    assert len(ds.requests) == 8  # every call reached the fake: the refused ones were refused by it


def test_retry_after_variant(ds: FakeDeepSeek) -> None:
    ds.cap(2, retry_after=3)
    ds.slow(0.5)
    results = burst(ds.url, 8)
    refused = [r for r in results if isinstance(r, openai.RateLimitError)]
    assert refused and all(r.response.headers["retry-after"] == "3" for r in refused)
    assert ds.billed + ds.refused == 8 and ds.max_in_flight <= 2


def test_a_refusal_is_answered_at_once_while_the_slow_one_is_in_flight(ds: FakeDeepSeek) -> None:
    ds.cap(1)
    ds.slow(1.0)
    url, headers = f"{ds.url}/chat/completions", {"Authorization": f"Bearer {KEY}"}
    body = {"model": "deepseek-flash", "messages": ASK}
    first = threading.Thread(target=requests.post, args=(url,), kwargs={"json": body, "headers": headers})
    first.start()
    assert ds.wait_for_request("/chat/completions") is not None
    started = time.monotonic()
    second = requests.post(url, json=body, headers=headers, timeout=10)
    assert second.status_code == 429 and time.monotonic() - started < 0.8  # not delayed by slow()
    assert requests.get(f"{ds.url}/models", headers=headers, timeout=10).status_code == 200  # not in scope
    first.join(timeout=10)
    assert (ds.billed, ds.refused, ds.max_in_flight) == (1, 1, 1)


def test_one_caller_after_another_is_never_refused(ds: FakeDeepSeek) -> None:
    """The slot is free before the caller has its answer: the next call on receipt is admitted (streams too)."""
    ds.cap(1)
    with openai.OpenAI(base_url=ds.url, api_key=KEY, max_retries=0, timeout=10) as client:
        for _ in range(15):
            client.chat.completions.create(model="deepseek-flash", messages=ASK, extra_body=NO_THINKING)
        for _ in range(5):
            chunks = list(client.chat.completions.create(model="deepseek-flash", messages=ASK, stream=True,
                                                         extra_body=NO_THINKING))
            assert chunks
            assert ds.refused == 0  # read straight after the stream: its slot and its bill are settled
    assert (ds.billed, ds.refused, ds.max_in_flight) == (20, 0, 1)


def test_refusals_and_other_errors_are_not_billed(ds: FakeDeepSeek) -> None:
    url, body = f"{ds.url}/chat/completions", {"model": "deepseek-flash", "messages": ASK}
    assert requests.post(url, json=body, headers={"Authorization": "Bearer wrong-key-0000"}, timeout=10).status_code \
        == 401
    ds.fail(500, count=1)
    assert requests.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=10).status_code == 500
    assert requests.post(url, json=body, headers={"Authorization": f"Bearer {KEY}"}, timeout=10).status_code == 200
    assert (ds.billed, ds.refused, ds.max_in_flight) == (1, 0, 1)  # counted without a cap too


def test_cap_off_clear_requests_and_reset_faults(ds: FakeDeepSeek) -> None:
    ds.cap(1)
    ds.slow(0.3)
    assert any(isinstance(r, openai.RateLimitError) for r in burst(ds.url, 4))
    ds.cap_off()
    before = ds.billed
    assert not any(isinstance(r, Exception) for r in burst(ds.url, 4))
    assert ds.billed == before + 4 and ds.max_in_flight >= 2  # the counters go on counting
    ds.clear_requests()
    assert (ds.billed, ds.refused, ds.max_in_flight, ds.requests) == (0, 0, 0, [])
    ds.cap(1)
    ds.reset_faults()  # lifts the cap too
    assert not any(isinstance(r, Exception) for r in burst(ds.url, 3))


def test_a_cap_below_one_is_refused(ds: FakeDeepSeek) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ds.cap(0)


def test_ollama_refuses_with_its_own_error_shape() -> None:
    with FakeOllama(models=("llama3.2:1b",)) as ol:
        ol.cap(1, retry_after=2)
        ol.slow(0.5)
        body = {"model": "llama3.2:1b", "stream": False, "messages": ASK}
        with ThreadPoolExecutor(max_workers=3) as pool:
            answers = list(pool.map(lambda _i: requests.post(f"{ol.url}/api/chat", json=body, timeout=10), range(3)))
        refused = [a for a in answers if a.status_code == 429]
        assert refused and refused[0].json() == {"error": CAP_MESSAGE} and refused[0].headers["Retry-After"] == "2"
        assert ol.billed == 3 - len(refused) and ol.refused == len(refused)


def test_the_cap_counts_in_flight_and_tallies() -> None:
    cap = ConcurrencyCap()
    assert cap.in_scope("/v1/chat/completions") and not cap.in_scope("/models")
    cap.set(2, retry_after=1, path_contains="/api/")
    assert cap.in_scope("/api/generate") and not cap.in_scope("/v1/chat/completions")
    assert [cap.admit(), cap.admit(), cap.admit()] == [True, True, False]
    cap.release(billed=True)
    assert cap.admit()
    cap.release(billed=False)
    cap.reset()  # one request still in flight stays counted
    tally = cap.tally()
    assert (tally.billed, tally.refused, tally.in_flight, tally.max_in_flight) == (0, 0, 1, 1)


# --- the standalone flags ----------------------------------------------------------------------------------------
@pytest.fixture(params=["opensearch_llm.testing.fake_deepseek", "opensearch_llm.testing.fake_ollama"])
def module(request: pytest.FixtureRequest) -> Any:
    return importlib.import_module(request.param)


def served(module: Any, monkeypatch: pytest.MonkeyPatch, *argv: str) -> Any:
    """The fake ``main(argv)`` would serve (not started)."""
    fakes: List[Any] = []
    monkeypatch.setattr(module, "serve_until_signal", lambda fake: fakes.append(fake) or 0)
    assert module.main(list(argv)) == 0
    return fakes[0]


def test_max_concurrency_and_retry_after_flags(module: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = served(module, monkeypatch, "--max-concurrency", "2", "--retry-after", "5", "--delay", "0.1")
    assert (fake._cap.limit, fake._cap.retry_after, fake.faults.delay) == (2, 5, 0.1)
    assert fake.faults.status is None and fake.faults.retry_after is None  # the header is the cap's, not a fault's
    plain = served(module, monkeypatch, "--fail-status", "503", "--retry-after", "4")
    assert plain._cap.limit is None and (plain.faults.status, plain.faults.retry_after) == (503, 4)


@pytest.mark.parametrize("argv, message", [
    (["--retry-after", "3"], "--retry-after needs --fail-status or --max-concurrency"),
    (["--max-concurrency", "0"], "--max-concurrency must be at least 1, got 0"),
])
def test_bad_cap_flags_exit_2(module: Any, argv: List[str], message: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        module.main(argv)
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_help_lists_the_cap_flag(module: Any, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        module.main(["--help"])
    out: Optional[str] = capsys.readouterr().out
    assert stopped.value.code == 0 and "--max-concurrency N" in out and "--retry-after S" in out
