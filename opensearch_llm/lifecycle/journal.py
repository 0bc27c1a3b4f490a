"""The run journal: append-only JSON lines per run, fsynced per entry, never holding secrets.

Each created id is written before the next step starts, so ``down --run ID`` (or ``sweep``)
can finish the job after a crash. Journals live in the user's state directory, so ``down``
finds them from any working directory:

``--journal-dir`` / ``$OPENSEARCH_LLM_JOURNAL_DIR``, else ``$OPENSEARCH_LLM_STATE_DIR/runs``,
else ``$XDG_STATE_HOME/opensearch-llm/runs``, else ``~/.local/state/opensearch-llm/runs``.
Journals an older version wrote to ``./.opensearch-llm/runs`` are still read.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional, Sequence

from opensearch_llm.paths import state_dir
from opensearch_llm.secrets import mask_text, masked

LEGACY_DIR = Path(".opensearch-llm/runs")
UNFINISHED = "unfinished"


def journal_dir(env: Optional[Mapping[str, str]] = None, override: Optional[str] = None) -> Path:
    """Where new journals are written (see the module docstring)."""
    env = os.environ if env is None else env
    explicit = override or env.get("OPENSEARCH_LLM_JOURNAL_DIR")
    return Path(explicit) if explicit else state_dir(env) / "runs"


def journal_dirs(env: Optional[Mapping[str, str]] = None, override: Optional[str] = None) -> list[Path]:
    """Every directory journals are read from: the current one, then the legacy ``./.opensearch-llm/runs``."""
    primary = journal_dir(env, override)
    legacy = LEGACY_DIR.resolve()
    dirs = [primary]
    if legacy.is_dir() and legacy != primary.resolve():
        dirs.append(legacy)
    return dirs


@dataclass
class Journal:
    """One run's journal file."""

    path: Path

    @classmethod
    def open(cls, directory: Path, run_id: str) -> "Journal":
        """The journal of ``run_id`` in ``directory`` (created on first write)."""
        return cls(directory / f"{run_id}.jsonl")

    @classmethod
    def find(cls, directories: Sequence[Path], run_id: str) -> "Journal":
        """The existing journal of ``run_id`` in any of ``directories``, else a new one in the first."""
        for directory in directories:
            journal = cls.open(directory, run_id)
            if journal.path.exists():
                return journal
        return cls.open(directories[0], run_id)

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

    def start(self) -> dict:
        """The run's ``start`` entry (empty when missing); reads only the first line where that is it."""
        try:
            with self.path.open(encoding="utf-8") as fh:
                first = json.loads(fh.readline() or "{}")
        except (OSError, ValueError):
            first = {}
        return first if first.get("event") == "start" else start_entry(self.entries())

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


def runs(directories: Sequence[Path]) -> Iterator[Journal]:
    """Every journal in ``directories``, newest first within each directory."""
    seen: set = set()
    for directory in directories:
        if not directory.exists():
            continue
        for path in sorted(directory.glob("*.jsonl"), reverse=True):
            if path.stem not in seen:
                seen.add(path.stem)
                yield Journal(path)


def created(entries: list[dict]) -> dict[str, list[str]]:
    """kind → ids of resources this run created and has not deleted yet."""
    alive: dict[str, list[str]] = {}
    for e in entries:
        if e["event"] == "created" and e["id"] not in alive.get(e["kind"], []):
            alive.setdefault(e["kind"], []).append(e["id"])
        elif e["event"] == "deleted" and e["id"] in alive.get(e["kind"], []):
            alive[e["kind"]].remove(e["id"])
    return {kind: ids for kind, ids in alive.items() if ids}


def outcome(entries: list[dict]) -> Optional[str]:
    """How a journaled run ended: ``down`` (taken down; whatever remains is left over), ``failed``,
    ``applied``, ``unfinished`` (started, never ended), or None without a journal."""
    events = [e["event"] for e in entries]
    if "start" not in events:
        return None
    for ended in ("down", "failed", "applied"):
        if ended in events:
            return ended
    return UNFINISHED


def owner_fields(node_ids: Iterable[str], uuid: str = "") -> dict:
    """What a run's ``start`` entry records about where it runs: the cluster (the ids of its nodes, which a node
    keeps for the life of its data directory and a new cluster never shares; and its UUID, which survives every
    node being replaced, where the run changes settings), this host and process."""
    return {"cluster_nodes": sorted(node_ids), **({"cluster": uuid} if uuid else {}),
            "host": socket.gethostname(), "pid": os.getpid()}


def known_uuid(directories: Sequence[Path], node_ids: Iterable[str]) -> str:
    """The cluster UUID that an earlier run recorded for a cluster sharing a node id with ``node_ids``, or ""."""
    ids = set(node_ids)
    for journal in runs(directories):
        start = journal.start()
        if start.get("cluster") and ids & set(start.get("cluster_nodes") or ()):
            return str(start["cluster"])
    return ""


def start_entry(entries: list[dict]) -> dict:
    """The run's ``start`` entry (empty when missing)."""
    return next((e for e in entries if e["event"] == "start"), {})


def same_cluster(start: dict, node_ids: Callable[[], Iterable[str]], uuid: Callable[[], str]) -> bool:
    """True when the run of ``start`` (its journal's start entry) was on the cluster whose nodes are
    ``node_ids()``: a node id in common is the same cluster; otherwise the recorded UUID must be ``uuid()``
    (every node replaced since). Journals from before clusters were recorded count as matching."""
    if start.get("cluster_nodes") and set(start["cluster_nodes"]) & set(node_ids()):
        return True
    if start.get("cluster"):
        return start["cluster"] == uuid()
    return not start.get("cluster_nodes")


def recorded_on_same_cluster(start: dict, other: dict) -> bool:
    """True when two runs' start entries name the same cluster (without asking the cluster)."""
    if start.get("cluster") and other.get("cluster"):
        return start["cluster"] == other["cluster"]
    return bool(set(start.get("cluster_nodes") or ()) & set(other.get("cluster_nodes") or ()))


def still_running(entries: list[dict]) -> bool:
    """True when the run's process is alive on this host and the run has not ended (never sweep it)."""
    start = start_entry(entries)
    if start.get("host") != socket.gethostname() or not isinstance(start.get("pid"), int):
        return False
    if any(e["event"] in ("done", "down", "failed") for e in entries) or start["pid"] == os.getpid():
        return False
    try:
        os.kill(start["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
