"""The main job on embedded defaults: a local node, the offline DeepSeek stand-in, the full lifecycle.

Everything runs on 127.0.0.1; nothing needs a real API key. Pointing the same blueprint at the
real DeepSeek API only takes ``DEEPSEEK_API_KEY`` (see README).
"""

from __future__ import annotations

import secrets as _random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Optional

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions, StepEvent

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

DEMO_BLUEPRINT = "deepseek-chat"


@dataclass
class DemoReport:
    """Timings of each phase, the ids used and the model's answer."""

    url: str = ""
    version: str = ""
    answer: str = ""
    ids: dict = field(default_factory=dict)
    phases: list = field(default_factory=list)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"url": self.url, "version": self.version, "answer": self.answer, "ids": self.ids,
                "phases": [{"phase": p, "seconds": round(s, 3)} for p, s in self.phases]}


def run_demo(version: Optional[str] = None, message: str = "Hello from opensearch-llm",
             keep_node: bool = False, say: Callable[[str], None] = print, name: str = "default",
             on_step: Callable[[StepEvent], None] = lambda _e: None) -> DemoReport:
    """Start (or reuse) the local node and the fake DeepSeek, then up → predict → down."""
    from opensearch_llm.blueprint import load_blueprint
    from opensearch_llm.local import LocalNode
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    report = DemoReport()
    key = "sk-demo-" + _random.token_hex(16)
    with FakeDeepSeek(api_key=key) as upstream:
        # the shipped blueprint (never a same-named file in the current directory), before any node starts
        bp = load_blueprint(shipped_blueprint(DEMO_BLUEPRINT), env_file=False,
                            env={"DEEPSEEK_API_KEY": key, "DEEPSEEK_BASE_URL": upstream.url})
        t = time.perf_counter()
        node = LocalNode(version, name=name, progress=say)
        was_running = node.running() is not None
        info = node.start()
        report.url, report.version = info.url, info.version
        _phase(report, say, f"local node OpenSearch {info.version} at {info.url}", t)
        try:
            say(f"offline DeepSeek stand-in at {upstream.url}")
            _up_predict_down(info.url, bp, message, report, say, RunOptions(on_step=on_step))
        finally:
            if not keep_node and not was_running:
                node.stop(purge=True)
    return report


def _phase(report: DemoReport, say: Callable[[str], None], name: str, started: float) -> None:
    report.phases.append((name, time.perf_counter() - started))
    say(f"{name}: {report.phases[-1][1]:.2f}s")


def _up_predict_down(url: str, bp: "Blueprint", message: str, report: DemoReport, say: Callable[[str], None],
                     options: RunOptions) -> None:
    from opensearch_llm import api
    from opensearch_llm.client import ConnectionSettings, connect

    client = connect(ConnectionSettings(url=url))
    t = time.perf_counter()
    report.ids = api.up(client, bp, options=options).provisioned.ids
    _phase(report, say, "up (settings, model group, connector, register+deploy, smoke)", t)
    t = time.perf_counter()
    report.answer = api.predict(client, bp, message).text
    _phase(report, say, f"predict {message!r} -> {report.answer!r}", t)
    t = time.perf_counter()
    api.raise_if_left(api.down(client, bp, options=options), "down")
    _phase(report, say, "down (undeploy, delete model, connector, model group, restore settings)", t)


def shipped_blueprint(name: str) -> Path:
    """The shipped blueprint ``name``; :class:`InvalidInputError` (exit 2) when the catalog lacks it."""
    from opensearch_llm.catalog import lookup, not_found_hint

    path = lookup(name)
    if path is None:
        raise InvalidInputError(f"the shipped blueprint {name} is not installed{not_found_hint(name)}")
    return path
