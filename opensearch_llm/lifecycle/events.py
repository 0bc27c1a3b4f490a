"""Progress events and run options shared by apply, smoke and teardown."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from opensearch_llm.resources.model import Polling


@dataclass(frozen=True)
class StepEvent:
    """One finished (or failed) lifecycle step, for progress output."""

    step: str
    status: str
    seconds: float
    detail: str = ""


def _ignore(_event: StepEvent) -> None:
    return None


@dataclass(frozen=True)
class RunOptions:
    """Knobs for one run; time is injectable so unit tests never wait."""

    keep_on_failure: bool = False
    deploy_timeout: Optional[float] = None
    polling: Polling = field(default_factory=Polling)
    sleep: Callable[[float], None] = time.sleep
    journal_dir: Optional[str] = None
    on_step: Callable[[StepEvent], None] = _ignore
    on_run: Callable[[str], None] = lambda _run_id: None
    on_pull: Callable[[dict], None] = lambda _event: None  # Ollama pull progress (see lifecycle.prepare)
    preflight: bool = True  # ask the provider before the first cluster request (see opensearch_llm.preflight)
    all_users: bool = False  # status/sweep/down may act on runs other users created (admins)
    on_warning: Callable[[str], None] = lambda _message: None


class StepTimer:
    """Times a step and reports it through ``on_step``."""

    def __init__(self, options: RunOptions, step: str) -> None:
        self.options, self.step = options, step
        self.started = time.perf_counter()

    def done(self, detail: str = "", status: str = "ok") -> float:
        """Report the step as finished; return its duration."""
        seconds = time.perf_counter() - self.started
        self.options.on_step(StepEvent(self.step, status, seconds, detail))
        return seconds


def add_note(exc: BaseException, note: str) -> None:
    """``exc.add_note`` where Python has it (3.11+), else the same attribute by hand."""
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    else:  # pragma: no cover - Python < 3.11
        exc.__notes__ = [*getattr(exc, "__notes__", []), note]  # type: ignore[attr-defined]
