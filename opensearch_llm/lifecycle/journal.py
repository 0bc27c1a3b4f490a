"""The run journal: append-only JSON lines per run, fsynced per entry, never holding secrets.

Each created id is written before the next step starts, so ``down --run ID`` (or ``sweep``)
can finish the job after a crash.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Optional

from opensearch_llm.secrets import mask_text, masked

DEFAULT_DIR = ".opensearch-llm/runs"


def journal_dir(env: Optional[Mapping[str, str]] = None, override: Optional[str] = None) -> Path:
    """``--journal-dir``, else ``$OPENSEARCH_LLM_JOURNAL_DIR``, else ``.opensearch-llm/runs``."""
    env = os.environ if env is None else env
    return Path(override or env.get("OPENSEARCH_LLM_JOURNAL_DIR") or DEFAULT_DIR)


@dataclass
class Journal:
    """One run's journal file."""

    path: Path

    @classmethod
    def open(cls, directory: Path, run_id: str) -> "Journal":
        """The journal of ``run_id`` in ``directory`` (created on first write)."""
        return cls(directory / f"{run_id}.jsonl")

    def write(self, event: str, **fields: Any) -> None:
        """Append one entry and fsync it before returning."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        entry = {"ts": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), "event": event,
                 **masked(fields)}
        line = mask_text(json.dumps(entry, sort_keys=True, default=str)) + "\n"
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def entries(self) -> list[dict]:
        """Every entry, oldest first; a torn last line (crash mid-write) is skipped."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    @property
    def run_id(self) -> str:
        """The run id (the file name)."""
        return self.path.stem


def runs(directory: Path) -> Iterator[Journal]:
    """Every journal in ``directory``, newest first."""
    if directory.exists():
        for path in sorted(directory.glob("*.jsonl"), reverse=True):
            yield Journal(path)


def created(entries: list[dict]) -> dict[str, str]:
    """kind → id of resources this run created and has not deleted yet."""
    alive: dict[str, str] = {}
    for e in entries:
        if e["event"] == "created":
            alive[e["kind"]] = e["id"]
        elif e["event"] == "deleted" and alive.get(e["kind"]) == e["id"]:
            del alive[e["kind"]]
    return alive
