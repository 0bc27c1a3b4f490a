"""A stream that carries an error, or nothing, is "streaming unavailable here", not an empty answer.

Each test runs a small HTTP server on 127.0.0.1 that answers like a 3.6 node: ``GET /`` with its
version, ``_predict/stream`` in the shape under test and ``_predict`` with a full answer, and talks to it
through a real opensearch-py client.  The shapes come from a 3.6.0 node with the reactor-netty4 HTTP
transport but no Flight stream transport (field notes §8): a ``200 text/event-stream`` whose body is a
plain JSON error, and a stream that sends its head and then nothing.
"""

from __future__ import annotations

import functools
import json
import threading
from pathlib import Path
from typing import Any, Callable, Iterator, List, Optional

import pytest

from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.client import ConnectionSettings, connect
from opensearch_llm.errors import UpstreamError
from opensearch_llm.lifecycle import conversation, streaming
from opensearch_llm.lifecycle.conversation import predict
from opensearch_llm.lifecycle.streaming import stream_answer
from opensearch_llm.resources.predict_stream import StreamUnavailable, iter_events, predict_stream
from opensearch_llm.testing._server import Exchange, FakeServer

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-unit-stream-0000000000"
STREAM = "/_plugins/_ml/models/m1/_predict/stream"
NO_FLIGHT = ('Cannot invoke "org.opensearch.transport.StreamTransportService.sendRequest(...)" because '
             '"this.streamTransportService" is null')
FALLBACK_NOTE = "streaming is not available on this cluster (OpenSearch 3.6.0: "


def chunk(content: str, last: bool = False) -> bytes:
    data = {"inference_results": [{"output": [{"name": "response",
                                               "dataAsMap": {"content": content, "is_last": last}}]}]}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def error_document(reason: str, status: int = 500) -> bytes:
    return json.dumps({"error": {"root_cause": [{"type": "null_pointer_exception", "reason": reason}],
                                 "type": "null_pointer_exception", "reason": reason}, "status": status}).encode()


class Node(FakeServer):
    """A 3.6.0 node whose stream endpoint runs ``stream`` and whose ``_predict`` answers "full answer"."""

    def __init__(self, stream: Callable[[Exchange, threading.Event], None]) -> None:
        super().__init__()
        self.release = threading.Event()  # lets a stalled stream end when the test is over
        self.route("GET", "/", lambda ex: ex.send_json(200, {"version": {"number": "3.6.0"}}))
        self.route("POST", STREAM, lambda ex: stream(ex, self.release))
        self.route("POST", "/_plugins/_ml/models/m1/_predict", lambda ex: ex.send_json(200, {
            "inference_results": [{"output": [{"name": "response", "dataAsMap": {
                "choices": [{"message": {"role": "assistant", "content": "full answer"}}]}}], "status_code": 200}]}))

    def stop(self) -> None:
        self.release.set()
        super().stop()

    def calls(self, path: str) -> int:
        return len([r for r in self.requests if r.path == path])


def events(*pieces: bytes, end: bool = True) -> Callable[[Exchange, threading.Event], None]:
    """A 200 text/event-stream that writes ``pieces``, then ends (or stays open until released)."""

    def answer(ex: Exchange, release: threading.Event) -> None:
        ex.start_stream(200, "text/event-stream")
        for piece in pieces:
            ex.write(piece)
        if not end:
            release.wait(10)
        ex.end_stream()

    return answer


def silent_before_head(ex: Exchange, release: threading.Event) -> None:
    release.wait(10)
    ex.start_stream(200, "text/event-stream")
    ex.end_stream()


@pytest.fixture
def blueprint() -> Any:
    return load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env={"DEEPSEEK_API_KEY": KEY})


@pytest.fixture
def quick_first_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """``predict`` with a 0.5 s bound on the first event instead of the default 10 s."""
    monkeypatch.setattr(streaming, "stream_answer", functools.partial(stream_answer, first_event_timeout=0.5))


def node(stream: Callable[[Exchange, threading.Event], None]) -> Iterator[Node]:
    with Node(stream) as server:
        yield server


def ask(server: Node, blueprint: Any, seen: Optional[List[str]] = None) -> conversation.PredictResult:
    client = connect(ConnectionSettings(url=server.url))
    return predict(client, blueprint, "hi", model_id="m1", stream=True,
                   on_chunk=(seen if seen is not None else []).append)


def assert_fell_back(result: conversation.PredictResult, server: Node, why: str) -> None:
    assert result.text == "full answer" and not result.streamed
    assert result.stream_note is not None and "\n" not in result.stream_note
    assert result.stream_note.startswith(FALLBACK_NOTE) and result.stream_note.endswith(": showing the full answer")
    assert why in result.stream_note, result.stream_note
    assert server.calls(STREAM) == 1 and server.calls("/_plugins/_ml/models/m1/_predict") == 1


# (a) a 200 event stream whose body is a plain JSON error -------------------------------------------------------


@pytest.mark.parametrize("end", [True, False], ids=["then-ends", "then-stays-open"])
def test_a_json_error_body_falls_back_to_the_full_answer_with_the_reason(blueprint: Any, end: bool,
                                                                        quick_first_event: None) -> None:
    for server in node(events(error_document(NO_FLIGHT), end=end)):
        result = ask(server, blueprint)
        assert_fell_back(result, server, '"this.streamTransportService" is null')
        assert "arrow-flight-rpc" in result.stream_note


def test_the_cli_prints_the_full_answer_and_one_line_saying_why(blueprint: Any,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from opensearch_llm.cli.run_cmds import _render

    for server in node(events(error_document(NO_FLIGHT))):
        _render(ask(server, blueprint), as_json=False)
    out, err = capsys.readouterr()
    assert out == "full answer\n"
    assert len(err.splitlines()) == 1 and err.startswith(FALLBACK_NOTE) and "streamTransportService" in err


def test_the_reason_is_masked_and_one_line(blueprint: Any) -> None:
    reason = f"connector failed with key {KEY}\n\tat org.opensearch.ml.Something(Something.java:1)"
    for server in node(events(error_document(reason))):
        result = ask(server, blueprint)
        assert_fell_back(result, server, "connector failed with key *** at org.opensearch.ml.Something")
        assert KEY not in result.stream_note


def test_a_provider_error_in_the_body_is_an_error_not_a_second_call(blueprint: Any) -> None:
    reason = 'Error from remote service: {"error":{"message":"Insufficient Balance"}}'
    for server in node(events(error_document(reason, status=402))):
        with pytest.raises(UpstreamError, match="Insufficient Balance"):
            ask(server, blueprint)
        assert server.calls("/_plugins/_ml/models/m1/_predict") == 0


def test_a_stream_without_any_event_falls_back(blueprint: Any) -> None:
    for server in node(events(b": keep-alive\n\n")):
        assert_fell_back(ask(server, blueprint), server, "the cluster ended the stream without sending an event")


def test_a_body_that_is_no_event_stream_falls_back_with_its_start(blueprint: Any) -> None:
    for server in node(events(b"Internal Server Error")):
        assert_fell_back(ask(server, blueprint), server, "the stream body is no event stream: Internal Server Error")


# (b) a stream that sends its head and then nothing ----------------------------------------------------------------


def test_a_stalled_stream_falls_back_within_the_first_event_bound(blueprint: Any, quick_first_event: None) -> None:
    for server in node(events(end=False)):
        result = ask(server, blueprint)
        assert_fell_back(result, server, "the cluster accepted the stream but sent no event within 0.5 s")


def test_keep_alive_comments_do_not_extend_the_first_event_bound(blueprint: Any) -> None:
    def trickle(ex: Exchange, release: threading.Event) -> None:
        ex.start_stream(200, "text/event-stream")
        while not release.wait(0.1):
            ex.write(b": keep-alive\n\n")

    for server in node(trickle):
        client = connect(ConnectionSettings(url=server.url))
        with pytest.raises(StreamUnavailable, match="sent no event within 0.5 s"):
            predict_stream(client, "m1", {}, 60.0, lambda _data: None, first_event_timeout=0.5)


def test_a_cluster_that_never_sends_a_head_falls_back(blueprint: Any) -> None:
    for server in node(silent_before_head):
        got = stream_answer(connect(ConnectionSettings(url=server.url)), blueprint, "m1", {}, print,
                            first_event_timeout=0.5)
        assert got.note is not None and "did not start the stream within 0.5 s" in got.note


def test_a_slow_answer_after_the_first_event_is_not_cut_by_the_first_event_bound(blueprint: Any) -> None:
    # Margins far from any scheduling delay: the first event is written at once, against a 2 s bound; the
    # rest comes 4 s later, 2 s past that bound (which would cut it) and far inside the answer's 60 s.
    def slow(ex: Exchange, release: threading.Event) -> None:
        ex.start_stream(200, "text/event-stream")
        ex.write(chunk("Hel"))
        release.wait(4.0)
        ex.write(chunk("lo", last=True))
        ex.end_stream()

    assert streaming.answer_timeout(blueprint) == 60.0
    seen: List[str] = []
    for server in node(slow):
        got = stream_answer(connect(ConnectionSettings(url=server.url)), blueprint, "m1", {}, seen.append,
                            first_event_timeout=2.0)
    assert got.note is None and got.text == "Hello" and seen == ["Hel", "lo"]


# (c) once text was shown, an error is an error ----------------------------------------------------------------------


def test_events_then_an_error_event_are_an_upstream_error(blueprint: Any) -> None:
    seen: List[str] = []
    for server in node(events(chunk("par"), b'data: {"error": "upstream went away"}\n\n')):
        with pytest.raises(UpstreamError, match="upstream went away"):
            ask(server, blueprint, seen)
        assert seen == ["par"] and server.calls("/_plugins/_ml/models/m1/_predict") == 0


def test_events_then_a_json_error_body_are_an_upstream_error(blueprint: Any) -> None:
    for server in node(events(chunk("par"), error_document("transport closed"))):
        with pytest.raises(UpstreamError, match="the streamed answer failed: transport closed"):
            ask(server, blueprint)
        assert server.calls("/_plugins/_ml/models/m1/_predict") == 0


def test_events_then_silence_past_the_answer_timeout_are_an_upstream_error(blueprint: Any) -> None:
    for server in node(events(chunk("par"), end=False)):
        client = connect(ConnectionSettings(url=server.url))
        with pytest.raises(UpstreamError, match="broke off"):
            predict_stream(client, "m1", {}, 0.5, lambda _data: None, first_event_timeout=5.0)


# (d) a normal stream still streams ---------------------------------------------------------------------------------


def test_a_done_terminated_stream_is_streamed(blueprint: Any) -> None:
    seen: List[str] = []
    for server in node(events(b": keep-alive\n\n", chunk("Hel"), chunk("lo"), b"data: [DONE]\n\n")):
        result = ask(server, blueprint, seen)
        assert result.streamed and result.stream_note is None
        assert result.text == "Hello" and seen == ["Hel", "lo"]
        assert server.calls("/_plugins/_ml/models/m1/_predict") == 0
        # the client still works after a stream (the pool got a usable connection back)
        assert ask(server, blueprint).text == "Hello"


def test_the_stream_reader_keeps_non_sse_text_for_last() -> None:
    got = list(iter_events([b"event: message\nid: 1\nretry: 5\n", b": c\n", chunk("x"), b'{"error": "e"}']))
    assert got[0]["inference_results"][0]["output"][0]["dataAsMap"]["content"] == "x"
    assert got[1] == '{"error": "e"}' and len(got) == 2
