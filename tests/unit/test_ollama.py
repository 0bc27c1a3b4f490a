"""opensearch_llm.ollama against the offline fake Ollama (a real HTTP server on loopback)."""

from __future__ import annotations

import socket
from typing import Iterator

import pytest

from opensearch_llm.errors import UpstreamError, UpstreamUnreachableError
from opensearch_llm.ollama import (
    DEFAULT_BASE_URL, OllamaError, OllamaHost, OllamaModelNotFoundError, OllamaStreamError, OllamaUnreachableError,
    human_size, normalize_model_name, resolve_base_url,
)
from opensearch_llm.testing._ollama_wire import NOT_IN_REGISTRY, pull_lines
from opensearch_llm.testing._server import Exchange, FakeServer
from opensearch_llm.testing.fake_ollama import FakeOllama


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=("llama3.2:1b",)) as server:
        yield server


class ScriptedPull(FakeServer):
    """An Ollama whose /api/pull answers with a fixed status and raw body lines."""

    def __init__(self, lines: list, status: int = 200) -> None:
        super().__init__()
        self.lines, self.status = lines, status
        self.route("POST", "/api/pull", self._pull)

    def _pull(self, ex: Exchange) -> None:
        if self.status != 200:
            return ex.send_json(self.status, {"error": self.lines[0]})
        ex.start_stream(200, "application/x-ndjson")
        for line in self.lines:
            ex.write(line.encode() + b"\n")
        ex.end_stream()


def test_base_url_from_argument_env_or_default() -> None:
    assert resolve_base_url("http://h:1/", env={"OLLAMA_BASE_URL": "http://e:2"}) == "http://h:1"
    assert resolve_base_url(None, env={"OLLAMA_BASE_URL": "http://e:2/"}) == "http://e:2"
    assert resolve_base_url(None, env={"OLLAMA_BASE_URL": ""}) == DEFAULT_BASE_URL == "http://127.0.0.1:11434"


def test_host_reads_ollama_base_url(monkeypatch: pytest.MonkeyPatch, fake: FakeOllama) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake.url)
    assert OllamaHost().base_url == fake.url
    assert OllamaHost().version() == "0.12.6"


def test_list_models_and_has_model_with_default_tag(fake: FakeOllama) -> None:
    fake.add_model("nomic-embed-text")
    host = OllamaHost(fake.url)
    models = host.list_models()
    assert [m.name for m in models] == ["llama3.2:1b", "nomic-embed-text:latest"]
    assert models[0].size == 1_321_098_329 and len(models[0].digest) == 64 and models[0].modified_at.endswith("Z")
    assert host.has_model("nomic-embed-text") and host.has_model("nomic-embed-text:latest")
    assert host.has_model("llama3.2:1b") and not host.has_model("llama3.2") and not host.has_model("qwen3:4b")
    assert normalize_model_name("llama3.2") == "llama3.2:latest"
    assert normalize_model_name("registry.local:5000/x/model") == "registry.local:5000/x/model:latest"


def test_pull_streams_every_event_and_summarises(fake: FakeOllama) -> None:
    host = OllamaHost(fake.url)
    events: list = []
    summary = host.pull("smollm2:135m", on_event=events.append)
    assert events == pull_lines("smollm2:135m", 270_898_672)
    assert summary.status == "success" and summary.model == "smollm2:135m"
    assert summary.layers == 2 and summary.bytes == 270_898_672 and summary.seconds >= 0
    assert all(d.startswith("sha256:") for d in summary.digests)
    assert host.has_model("smollm2:135m") and fake.has_model("smollm2:135m")
    body = fake.last_request("/api/pull").json
    assert body["model"] == "smollm2:135m" and body["stream"] is True


def test_unknown_model_quotes_the_registry_reason_from_the_stream(fake: FakeOllama) -> None:
    with pytest.raises(OllamaModelNotFoundError) as info:
        OllamaHost(fake.url).pull("no-such-model:7b")
    assert NOT_IN_REGISTRY in str(info.value) and "no-such-model:7b" in str(info.value)
    assert info.value.provider_message == NOT_IN_REGISTRY and isinstance(info.value, UpstreamError)


def test_unknown_model_as_a_500_json_body() -> None:
    with ScriptedPull([NOT_IN_REGISTRY], status=500) as server:
        with pytest.raises(OllamaModelNotFoundError) as info:
            OllamaHost(server.url).pull("ghost")
    assert info.value.status == 500 and NOT_IN_REGISTRY in str(info.value)


def test_other_pull_errors_are_ollama_errors_not_unknown_model() -> None:
    with ScriptedPull(['{"status": "pulling manifest"}', '{"error": "disk full"}']) as server:
        with pytest.raises(OllamaError) as info:
            OllamaHost(server.url).pull("llama3.2:1b")
    assert not isinstance(info.value, OllamaModelNotFoundError) and "disk full" in str(info.value)


def test_stream_cut_short_by_a_dropped_connection(fake: FakeOllama) -> None:
    fake.cut_pull_after = 3
    events: list = []
    with pytest.raises(OllamaStreamError) as info:
        OllamaHost(fake.url).pull("qwen3:4b", on_event=events.append)
    assert len(events) == 3 and "cut off" in str(info.value) and "last status: pulling" in str(info.value)
    assert not fake.has_model("qwen3:4b")


def test_stream_that_ends_without_success() -> None:
    lines = ['{"status": "pulling manifest"}', '{"status": "verifying sha256 digest"}']
    with ScriptedPull(lines) as server:
        with pytest.raises(OllamaStreamError) as info:
            OllamaHost(server.url).pull("llama3.2:1b")
    assert 'ended before it finished (no {"status": "success"}; last status: verifying sha256 digest)' in str(
        info.value)


def test_a_line_that_is_not_json() -> None:
    with ScriptedPull(['{"status": "pulling manifest"}', "<html>proxy error</html>"]) as server:
        with pytest.raises(OllamaStreamError) as info:
            OllamaHost(server.url).pull("llama3.2:1b")
    assert "not a JSON object" in str(info.value) and "<html>proxy error</html>" in str(info.value)


def test_unreachable_host_is_one_clear_message() -> None:
    slept: list = []
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(OllamaUnreachableError) as info:
        OllamaHost(url, sleep=slept.append).list_models()
    assert str(info.value).startswith(f"cannot reach Ollama at {url}: ")
    assert "Connection refused" in str(info.value) and isinstance(info.value, UpstreamUnreachableError)
    assert len(slept) == 2  # three attempts, the waits injected
    with pytest.raises(OllamaUnreachableError):
        OllamaHost(url).pull("llama3.2:1b")


def test_busy_host_is_retried(fake: FakeOllama) -> None:
    slept: list = []
    fake.fail(503, count=1)
    assert OllamaHost(fake.url, sleep=slept.append).version() == "0.12.6"
    assert len(slept) == 1


def test_not_an_ollama_server() -> None:
    class Html(FakeServer):
        def __init__(self) -> None:
            super().__init__()
            self.route("GET", "/api/tags", lambda ex: ex.send_bytes(200, b"<html></html>", "text/html"))

    with Html() as server:
        with pytest.raises(OllamaError, match="did not answer JSON; is this an Ollama server"):
            OllamaHost(server.url).list_models()


@pytest.mark.parametrize("num, text", [(0, "0 B"), (485, "485 B"), (12_000, "12.0 KB"), (274_302_450, "274 MB"),
                                       (1_321_098_329, "1.3 GB"), (2_497_293_931, "2.5 GB")])
def test_human_size(num: int, text: str) -> None:
    assert human_size(num) == text


def test_credentials_in_the_url_are_never_shown() -> None:
    host = OllamaHost(f"http://user:hunter2-password@127.0.0.1:{closed_port()}", sleep=lambda _s: None)
    assert host.shown_url.startswith("http://***@127.0.0.1:") and "hunter2" not in repr(host)
    with pytest.raises(OllamaUnreachableError) as info:
        host.version()
    assert "hunter2" not in str(info.value) and "http://***@127.0.0.1:" in str(info.value)
