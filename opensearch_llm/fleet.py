"""Many blueprints at once: run one lifecycle command for each, ``jobs`` at a time, and collect every outcome.

One blueprint's failure never stops the others; each outcome keeps its exit code (1 failed, 2 bad input,
3 leftovers) and the fleet's is the worst of them. Runs that touch the same cluster setting at once are
safe: every settings read-modify-write and every restore holds :data:`opensearch_llm.resources.settings.LOCK`.
"""

from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, TypeVar

from opensearch_llm.errors import OpenSearchLLMError
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.secrets import mask_text

T = TypeVar("T")
DEFAULT_JOBS = 4
BLUEPRINT_SUFFIXES = (".yaml", ".yml")


@dataclass
class Outcome:
    """What one blueprint's command did: its result, or the error it ended with."""

    blueprint: str
    seconds: float
    result: Any = None
    error: Optional[BaseException] = None

    @property
    def ok(self) -> bool:
        """True when the command succeeded."""
        return self.error is None

    @property
    def exit_code(self) -> int:
        """0, or the error's exit code (1 for an unexpected error)."""
        if self.error is None:
            return 0
        return self.error.exit_code if isinstance(self.error, OpenSearchLLMError) else 1

    def to_dict(self) -> dict:
        """JSON-ready view (the error text masked)."""
        result = self.result.to_dict() if hasattr(self.result, "to_dict") else self.result
        return {"blueprint": self.blueprint, "ok": self.ok, "exit_code": self.exit_code,
                "seconds": round(self.seconds, 3), "result": result,
                "error": mask_text(str(self.error)) if self.error else None}


def expand(paths: Sequence[str]) -> list[str]:
    """Blueprint arguments with every directory replaced by its ``*.yaml``/``*.yml`` files (sorted)."""
    out: list[str] = []
    for arg in paths:
        folder = Path(arg)
        if folder.is_dir():
            out += sorted(str(p) for p in folder.iterdir() if p.suffix in BLUEPRINT_SUFFIXES and p.is_file())
        else:
            out.append(arg)
    return out


def for_each(items: Sequence[T], work: Callable[[T, RunOptions], Any], options: RunOptions,
             name: Callable[[T], str], jobs: int = DEFAULT_JOBS) -> list[Outcome]:
    """``work(item, options)`` for every item, ``jobs`` at a time; outcomes in the order of ``items``.

    Each item's step events are prefixed with its name. Ctrl-C is not caught here: it unwinds every run
    into its own cleanup.
    """
    def one(item: T) -> Outcome:
        label = name(item)
        mine = dataclasses.replace(options, on_step=lambda event: options.on_step(
            dataclasses.replace(event, step=f"{label}: {event.step}")))
        started = time.perf_counter()
        try:
            result = work(item, mine)
        except Exception as exc:  # noqa: BLE001 - recorded per blueprint, the others go on
            return Outcome(label, time.perf_counter() - started, error=exc)
        return Outcome(label, time.perf_counter() - started, result=result)

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(items)))) as pool:
        return list(pool.map(one, items))


def worst(outcomes: Sequence[Outcome]) -> int:
    """The fleet's exit code: leftovers (3) over bad input (2) over failure (1) over success (0)."""
    return max((o.exit_code for o in outcomes), default=0)


def summary(outcomes: Sequence[Outcome], verb: str) -> str:
    """One table: each blueprint's outcome and time, then the counts."""
    width = max((len(o.blueprint) for o in outcomes), default=0)
    lines = [f"{'ok' if o.ok else 'FAIL':<5} {o.blueprint:<{width}} {o.seconds:7.2f} s  "
             + (mask_text(str(o.error)).splitlines()[0] if o.error else _detail(o.result)) for o in outcomes]
    failed = sum(not o.ok for o in outcomes)
    lines.append(f"{verb}: {len(outcomes) - failed} ok, {failed} failed")
    return "\n".join(lines)


def _detail(result: Any) -> str:
    provisioned = getattr(result, "provisioned", None)
    if provisioned is not None:
        return f"model {provisioned.ids.get('model')} {provisioned.model_state}" + \
            ("" if provisioned.changed else " (nothing changed)")
    if hasattr(result, "summary"):
        return result.summary()
    if hasattr(result, "changes"):
        return "changes" if result.changes else "no changes"
    return ""
