"""Streaming predict (SSE reader, support detection, fallback notes) and the Ollama pull before ``up``.

The streaming tests talk HTTP to a small stand-in that answers like ML Commons' stream endpoint:
the real endpoint needs plugins that are not on Maven Central, so no local node can stream.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, List

import pytest

from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.client import ConnectionSettings, connect
from opensearch_llm.errors import UpstreamError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.prepare import prepare
from opensearch_llm.lifecycle.streaming import stream_answer, unavailable_reason
from opensearch_llm.ollama import OllamaModelNotFoundError
from opensearch_llm.resources.predict_stream import iter_events, version_supports_streaming
from opensearch_llm.testing._exchange import Exchange
from opensearch_llm.testing._server import FakeServer
from opensearch_llm.testing.fake_ollama import FakeOllama

ROOT = Path(__file__).resolve().parents[2]
ENV = {"DEEPSEEK_API_KEY": "sk-unit-0000000000"}
DISABLED = ('Streaming is currently disabled. To enable it, update the setting '
            '"plugins.ml_commons.stream_enabled" to true.')


def chunk(content: str, last: bool = False) -> bytes:
    data = {"inference_results": [{"output": [{"name": "response",
                                               "dataAsMap": {"content": content, "is_last": last}}]}]}
    return b"data: " + json.dumps(data).encode() + b"\n\n"


class StreamingCluster(FakeServer):
    """Answers ``GET /`` with a version and the stream endpoint with ``events`` (or an error)."""

    def __init__(self, version: str, events: List[bytes] = (), status: int = 200, reason: str = "") -> None:
        super().__init__()
        self.version, self.events, self.status, self.reason = version, list(events), status, reason
        self.route("GET", "/", lambda ex: ex.send_json(200, {"version": {"number": version}}))
        self.route("POST", "/_plugins/_ml/models/m1/_predict/stream", self._stream)

    def _stream(self, ex: Exchange) -> None:
        if self.status != 200:
            return ex.send_json(self.status, {"error": {"type": "illegal_state_exception", "reason": self.reason},
                                              "status": self.status})
        ex.start_stream(200, "text/event-stream")
        for event in self.events:
            ex.write(event)
        ex.end_stream()


def blueprint(name: str = "deepseek-chat", *overrides: str) -> Any:
    return load_blueprint(ROOT / "connectors" / f"{name}.yaml", env=ENV, overrides=list(overrides))


@pytest.mark.parametrize("version, ok", [("2.19.6", False), ("3.2.0", False), ("3.3.0", True), ("3.6.0", True),
                                         ("10.0.0", True), ("", False)])
def test_streaming_needs_3_3(version: str, ok: bool) -> None:
    assert version_supports_streaming(version) is ok


def test_sse_reader_handles_split_chunks_and_done() -> None:
    raw = chunk("Hel") + chunk("lo") + b"data: [DONE]\n\n"
    pieces = [raw[i:i + 7] for i in range(0, len(raw), 7)]
    events = list(iter_events(pieces))
    assert [e.get("is_last") for e in events] == [None, None, True]
    assert events[1]["inference_results"][0]["output"][0]["dataAsMap"]["content"] == "lo"


def test_old_cluster_gives_one_note_without_asking_the_endpoint() -> None:
    with StreamingCluster("2.19.6") as cluster:
        got = stream_answer(connect(ConnectionSettings(url=cluster.url)), blueprint(), "m1", {}, print)
        assert got.note == "streaming is not available on this cluster (OpenSearch 2.19.6): showing the full answer"
        assert cluster.last_request("/_predict/stream") is None


def test_disabled_streaming_falls_back_with_the_reason() -> None:
    with StreamingCluster("3.6.0", status=500, reason=DISABLED) as cluster:
        got = stream_answer(connect(ConnectionSettings(url=cluster.url)), blueprint(), "m1", {"messages": []}, print)
        assert got.note == ("streaming is not available on this cluster (OpenSearch 3.6.0: "
                            "plugins.ml_commons.stream_enabled is false): showing the full answer")
        sent = cluster.last_request("/_predict/stream").json
        assert sent == {"parameters": {"messages": [], "_llm_interface": "openai/v1/chat/completions"}}


def test_a_rest_layer_without_streaming_falls_back_with_the_plugin_named() -> None:
    reason = ("The engine does not support HTTP streaming, unable to serve uri "
              "[/_plugins/_ml/models/m1/_predict/stream] and method [POST]")  # what 3.6.0 answers without the plugin
    with StreamingCluster("3.6.0", status=500, reason=reason) as cluster:
        got = stream_answer(connect(ConnectionSettings(url=cluster.url)), blueprint(), "m1", {}, print)
    assert got.note == ("streaming is not available on this cluster (OpenSearch 3.6.0: its HTTP layer cannot "
                        "stream; it needs the transport-reactor-netty4 plugin): showing the full answer")


def test_streamed_chunks_arrive_in_order() -> None:
    seen: list = []
    with StreamingCluster("3.6.0", [chunk("Echo:"), chunk(" hi"), chunk("", last=True)]) as cluster:
        got = stream_answer(connect(ConnectionSettings(url=cluster.url)), blueprint(), "m1", {}, seen.append)
    assert got.note is None and seen == ["Echo:", " hi"] and got.text == "Echo: hi"
    assert got.response["inference_results"][0]["output"][0]["dataAsMap"]["content"] == "Echo: hi"


def test_an_error_event_is_an_upstream_error() -> None:
    with StreamingCluster("3.6.0", [chunk("par"), b'data: {"error": "upstream went away"}\n\n']) as cluster:
        with pytest.raises(UpstreamError, match="upstream went away"):
            stream_answer(connect(ConnectionSettings(url=cluster.url)), blueprint(), "m1", {}, lambda _t: None)


def test_only_openai_chat_connectors_stream() -> None:
    assert "ML Commons streams only OpenAI-compatible chat connectors" in unavailable_reason(
        "3.6.0", blueprint("ollama-chat"))
    assert unavailable_reason("3.6.0", blueprint("deepseek-reasoner")) is None


@pytest.fixture
def empty_ollama(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOllama]:
    with FakeOllama(models=()) as server:
        monkeypatch.setenv("OLLAMA_BASE_URL", server.url)
        yield server


def test_prepare_pulls_a_missing_model_once(empty_ollama: FakeOllama) -> None:
    events: list = []
    steps: list = []
    options = RunOptions(on_pull=events.append, on_step=steps.append)
    bp = load_blueprint(ROOT / "connectors" / "ollama-chat.yaml", env={"OLLAMA_BASE_URL": empty_ollama.url},
                        overrides=["ollama.pull=true"])
    done = prepare(bp, options)
    assert done is not None and done.pulled and done.model == "llama3.2:1b" and done.pull.layers == 2
    assert events[0] == {"status": "pulling manifest"} and events[-1] == {"status": "success"}
    assert steps[-1].step == "ollama" and steps[-1].status == "ok" and "pulled llama3.2:1b" in steps[-1].detail
    again = prepare(bp, options)
    assert again is not None and not again.pulled and "already on" in steps[-1].detail
    assert len([r for r in empty_ollama.requests if r.path == "/api/pull"]) == 1


def test_prepare_does_nothing_without_pull(empty_ollama: FakeOllama) -> None:
    bp = load_blueprint(ROOT / "connectors" / "ollama-chat.yaml", env={"OLLAMA_BASE_URL": empty_ollama.url})
    assert prepare(bp, RunOptions()) is None and empty_ollama.requests == []
    assert prepare(blueprint(), RunOptions()) is None


def test_prepare_reports_an_unknown_model(empty_ollama: FakeOllama) -> None:
    steps: list = []
    bp = load_blueprint(ROOT / "connectors" / "ollama-chat.yaml", env={"OLLAMA_BASE_URL": empty_ollama.url},
                        overrides=["ollama.pull=true", "ollama.model=ghost:1b"])
    with pytest.raises(OllamaModelNotFoundError, match="pull model manifest: file does not exist"):
        prepare(bp, RunOptions(on_step=steps.append))
    assert steps[-1].status == "failed"
