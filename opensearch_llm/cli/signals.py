"""Ctrl-C, SIGTERM and SIGHUP (a closed terminal or SSH session) during up/smoke: the first unwinds into
cleanup, a second exits at once."""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional


class RunTracker:
    """Remembers the run id in progress, for the message a second interrupt prints."""

    def __init__(self) -> None:
        self.run_id: Optional[str] = None

    def __call__(self, run_id: str) -> None:
        self.run_id = run_id


def _say(text: str) -> None:
    """Straight to file descriptor 2: the signal may have come in the middle of a write to sys.stderr (a
    buffered write there would be re-entered), and the terminal may be gone (SIGHUP)."""
    try:
        os.write(2, text.encode())
    except OSError:
        pass


@contextmanager
def cleanup_on_interrupt(tracker: RunTracker) -> Iterator[None]:
    """SIGTERM and SIGHUP behave like Ctrl-C; after the first, another signal exits 130 immediately."""
    previous: dict[int, Any] = {}
    interrupted = {"count": 0}

    def handler(signum: int, _frame: Any) -> None:
        interrupted["count"] += 1
        if interrupted["count"] == 1:
            _say("interrupted: cleaning up this run (press Ctrl-C again to stop at once)\n")
            raise KeyboardInterrupt
        hint = f"opensearch-llm sweep --run {tracker.run_id} --yes" if tracker.run_id else "opensearch-llm sweep --yes"
        _say(f"interrupted again: cleanup abandoned; finish it with: {hint}\n")
        os._exit(130)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        previous[sig] = signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command body under :func:`cleanup_on_interrupt`; passes ``tracker`` into RunOptions.on_run."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import dataclasses

        tracker = RunTracker()
        if "options" in kwargs:
            kwargs["options"] = dataclasses.replace(kwargs["options"], on_run=tracker)
        with cleanup_on_interrupt(tracker):
            return fn(*args, **kwargs)
    return wrapper
