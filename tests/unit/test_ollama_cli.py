"""``opensearch-llm ollama list|pull`` and the pull progress renderer, against the offline fake Ollama."""

from __future__ import annotations

import io
import json
import socket
from typing import Iterator, Tuple

import pytest

from opensearch_llm.cli import main
from opensearch_llm.cli.pull_progress import PullProgress
from opensearch_llm.testing._ollama_wire import NOT_IN_REGISTRY, pull_lines
from opensearch_llm.testing.fake_ollama import FakeOllama


@pytest.fixture
def fake() -> Iterator[FakeOllama]:
    with FakeOllama(models=("llama3.2:1b", "nomic-embed-text")) as server:
        yield server


def run(capsys: pytest.CaptureFixture, *args: str) -> Tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def test_list_shows_name_size_and_modified(capsys: pytest.CaptureFixture, fake: FakeOllama) -> None:
    code, out, err = run(capsys, "ollama", "list", "--host", fake.url)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "MODIFIED"]
    assert lines[1].split()[:3] == ["llama3.2:1b", "1.3", "GB"]
    assert lines[2].split()[:3] == ["nomic-embed-text:latest", "274", "MB"]
    assert lines[1].split()[3].count("-") == 2 and lines[1].split()[4].count(":") == 2  # 2026-01-02 03:04:05


def test_list_json_and_the_env_variable(capsys: pytest.CaptureFixture, fake: FakeOllama,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OLLAMA_BASE_URL", fake.url)
    code, out, _err = run(capsys, "ollama", "list", "--json")
    data = json.loads(out)
    assert code == 0 and data["host"] == fake.url
    assert [m["name"] for m in data["models"]] == ["llama3.2:1b", "nomic-embed-text:latest"]
    assert set(data["models"][0]) == {"name", "size", "modified_at", "digest"}


def test_list_of_an_empty_host(capsys: pytest.CaptureFixture) -> None:
    with FakeOllama(models=()) as empty:
        code, out, _err = run(capsys, "ollama", "list", "--host", empty.url)
    assert code == 0 and out.startswith("no models on Ollama at ")


def test_pull_progress_on_stderr_and_summary_on_stdout(capsys: pytest.CaptureFixture, fake: FakeOllama) -> None:
    code, out, err = run(capsys, "ollama", "pull", "qwen3:4b", "--host", fake.url)
    assert code == 0, err
    assert out.startswith(f"pulled qwen3:4b from {fake.url}: 2 layer(s), 2.5 GB (2497293931 bytes) in ")
    assert out.rstrip().endswith(" s")
    lines = err.splitlines()
    assert lines[0] == "pulling manifest" and lines[-1] == "success"
    assert "verifying sha256 digest" in lines and "writing manifest" in lines
    layer = [line for line in lines if line.startswith("pulling ") and "%" in line]
    assert len(layer) == 10 and layer[0].endswith("0%  0 B/2.5 GB") and "100%  2.5 GB/2.5 GB" in layer[4]
    assert "\r" not in err  # not a terminal: plain lines
    assert fake.has_model("qwen3:4b")


def test_pull_json_is_ndjson_then_the_summary(capsys: pytest.CaptureFixture, fake: FakeOllama) -> None:
    code, out, err = run(capsys, "ollama", "pull", "smollm2:135m", "--host", fake.url, "--json")
    assert code == 0 and err == ""
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[:-1] == pull_lines("smollm2:135m", 270_898_672)
    summary = rows[-1]["summary"]
    assert summary["layers"] == 2 and summary["bytes"] == 270_898_672 and summary["status"] == "success"


@pytest.mark.parametrize("args, expected", [
    (("ollama", "pull", "no-such-model"), NOT_IN_REGISTRY),
    (("ollama", "pull", "qwen3:4b"), "was cut off"),
])
def test_pull_failures_exit_1_with_one_line(capsys: pytest.CaptureFixture, fake: FakeOllama, args: tuple,
                                            expected: str) -> None:
    fake.cut_pull_after = 4
    code, out, err = run(capsys, *args, "--host", fake.url)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 1 and out == ""
    assert len(errors) == 1 and expected in errors[0]


def test_unreachable_host_exits_1(capsys: pytest.CaptureFixture) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for command in ("list", "pull"):
        code, _out, err = run(capsys, "ollama", command, *(["llama3.2:1b"] if command == "pull" else []),
                              "--host", f"http://127.0.0.1:{port}")
        assert code == 1 and err.startswith(f"error: cannot reach Ollama at http://127.0.0.1:{port}: ")
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [("ollama",), ("ollama", "list"), ("ollama", "pull")])
def test_help_ends_with_an_example(capsys: pytest.CaptureFixture, command: tuple) -> None:
    code, out, _err = run(capsys, *command, "--help")
    assert code == 0
    text = out.split("Options:")[0].rstrip()
    assert "Example:\n    opensearch-llm ollama" in text


def test_progress_on_a_terminal_redraws_one_bar_per_layer() -> None:
    out = io.StringIO()
    render = PullProgress(out, tty=True, width=10)
    for event in pull_lines("smollm2:135m", 270_898_672):
        render(event)
    render.finish()
    text = out.getvalue()
    lines = text.split("\n")
    assert lines[0] == "pulling manifest"
    assert lines[1].startswith("\rpulling 128829c7e4e4  [----------]   0%") and lines[1].count("\r") == 5
    assert lines[1].endswith("[##########] 100%  271 MB/271 MB")
    assert lines[2].count("\r") == 5 and lines[2].endswith("100%  485 B/485 B")
    assert lines[3:] == ["verifying sha256 digest", "writing manifest", "success", ""]


def test_progress_in_a_log_prints_every_ten_percent_once() -> None:
    out = io.StringIO()
    render = PullProgress(out, tty=False, prefix="  ")
    digest = "sha256:" + "ab" * 32
    render({"status": "pulling manifest"})
    for done in range(0, 1001, 25):  # 41 events, 0.0 % .. 100 %
        render({"status": "pulling abababababab", "digest": digest, "total": 1000, "completed": done})
    render({"status": "success"})
    lines = out.getvalue().splitlines()
    assert lines[0] == "  pulling manifest" and lines[-1] == "  success"
    percents = [line.split(":")[1].split("%")[0].strip() for line in lines[1:-1]]
    assert percents == [str(p) for p in range(0, 101, 10)]
