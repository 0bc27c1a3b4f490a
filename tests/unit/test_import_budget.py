"""Import budget: heavy modules stay off the paths that do not use them (``python -X importtime``, issue 17).

``--help`` of the root and of the commands needs click and nothing else outside the standard
library. A real ``up`` / ``predict`` against a cluster given by ``--url`` needs the client
(opensearch-py, which imports ``requests`` and ``urllib3``; tenacity) and the YAML reader, but not
jsonschema once the blueprint's structure was validated before, not the local launcher (no local
node is involved) and nothing of the fakes. The cluster is :class:`tests.unit.ml_double.MLDouble`
served by the fakes' HTTP server. A failure lists the offending modules and their cumulative import
microseconds; times are reported, never asserted.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional, Sequence
from urllib.parse import parse_qsl

import pytest

from opensearch_llm.testing._exchange import Exchange
from opensearch_llm.testing._server import FakeServer
from tests.unit.ml_double import MLDouble

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = str(ROOT / "connectors" / "deepseek-chat.yaml")
ENTRY = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$")

# never on a --help path, nor on a real up/predict unless listed in ON_A_CLUSTER
HEAVY = ("jsonschema", "requests", "urllib3", "opensearchpy", "yaml", "tenacity", "opensearch_llm.local",
         "opensearch_llm.testing")
ON_A_CLUSTER = ("requests", "urllib3", "opensearchpy", "yaml", "tenacity")
HELP_THIRD_PARTY = {"click"}
# our own modules a command has no use for: checks, sweeping and rotation stay off `up`; planning, applying,
# teardown, consumers and the preflight stay off `predict` (one request to find the model, one to ask it)
UP_NEVER = ("opensearch_llm.doctor", "opensearch_llm.sweep", "opensearch_llm.upstream_checks",
            "opensearch_llm.lifecycle.conversation", "opensearch_llm.lifecycle.rotate", "opensearch_llm.lifecycle.findings",
            "opensearch_llm.lifecycle.settings_run", "opensearch_llm.preflight")
PREDICT_NEVER = ("opensearch_llm.lifecycle.apply", "opensearch_llm.lifecycle.plan", "opensearch_llm.lifecycle.up_run",
                 "opensearch_llm.lifecycle.teardown", "opensearch_llm.lifecycle.rollback", "opensearch_llm.lifecycle.drift",
                 "opensearch_llm.lifecycle.consumer_apply", "opensearch_llm.lifecycle.consumer_plan",
                 "opensearch_llm.lifecycle.consumer_smoke", "opensearch_llm.sweep", "opensearch_llm.doctor",
                 "opensearch_llm.preflight", "opensearch_llm.fleet")



@dataclass
class Entry:
    """One line of ``-X importtime``: a module, its own and cumulative microseconds, and who imported it."""

    name: str
    self_us: int
    cumulative_us: int
    depth: int
    parent: str = ""


def imports(argv: Sequence[str], env: Optional[dict] = None) -> List[Entry]:
    """The modules ``python -X importtime -m opensearch_llm ARGV`` imports after interpreter start-up (site)."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "opensearch_llm", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]  # a run cut short would import less than it should
    entries: List[Entry] = []
    for line in proc.stderr.splitlines():
        m = ENTRY.match(line)
        if m:
            entries.append(Entry(m.group(4), int(m.group(1)), int(m.group(2)), len(m.group(3)) // 2))
    # what site imports (.pth hooks of this machine, not of ours) ends with the depth-0 'site' line
    site = next((i for i, e in enumerate(entries) if e.depth == 0 and e.name == "site"), -1)
    entries = entries[site + 1:]
    for i, e in enumerate(entries):  # post-order: the importer is the next line one level up
        e.parent = next((p.name for p in entries[i + 1:] if p.depth == e.depth - 1), "")
    assert any(e.name.startswith("opensearch_llm") for e in entries), proc.stderr[-3000:]
    return entries


def matches(name: str, prefixes: Sequence[str]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offenders(entries: Sequence[Entry], forbidden: Sequence[str], allowed: Sequence[str] = (),
              exact: frozenset = frozenset()) -> List[Entry]:
    return [e for e in entries if matches(e.name, forbidden) and not matches(e.name, allowed) and e.name not in exact]


def third_party(entries: Sequence[Entry], allowed: set) -> List[Entry]:
    """Modules of packages outside the standard library, opensearch_llm and ``allowed``."""
    ours = {*sys.stdlib_module_names, "opensearch_llm", "org", *allowed}  # org: copy.py probes for Jython
    return [e for e in entries if e.name.partition(".")[0] not in ours]


def explain(argv: Sequence[str], found: Sequence[Entry]) -> str:
    """The offending imports that no other offender pulled in, with their cumulative microseconds."""
    names = {e.name for e in found}
    roots = sorted({e.name: e for e in found if e.parent not in names}.values(), key=lambda e: -e.cumulative_us)
    lines = [f"`opensearch-llm {' '.join(argv)}` imports {len(names)} module(s) it does not need, "
             f"{sum(e.cumulative_us for e in roots) / 1000:.1f} ms in all:"]
    lines += [f"  {e.name:<40} {e.cumulative_us:>8} us cumulative  (imported by {e.parent or 'the entry point'})"
              for e in roots]
    return "\n".join(lines)


@pytest.mark.parametrize("argv", [["--help"], ["up", "--help"], ["predict", "--help"], ["down", "--help"]],
                         ids=lambda a: " ".join(a))
def test_help_imports_click_only(argv: List[str]) -> None:
    entries = imports(argv)
    found = offenders(entries, HEAVY)
    found += [e for e in third_party(entries, HELP_THIRD_PARTY) if e not in found]
    assert not found, explain(argv, found)


class DoubleServer(FakeServer):
    """The ML double over HTTP: every request is answered by :meth:`MLDouble.handle`."""

    name = "ml-double"

    def __init__(self, double: MLDouble) -> None:
        super().__init__()
        self.double = double

    def _dispatch(self, ex: Exchange) -> None:
        rec = ex.request
        status, headers, text = self.double.handle(rec.method, rec.path, dict(parse_qsl(rec.query)), rec.body)
        headers = dict(headers)
        ex.send_bytes(status, text.encode(), headers.pop("content-type", "application/json"), headers)


def cli_env(url: str, tmp: Path) -> dict:
    """The CLI's environment for the cluster at ``url``, with its own journal, state and cache directories."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENSEARCH_", "DEEPSEEK_"))}
    env.update(OPENSEARCH_URL=url, DEEPSEEK_API_KEY="sk-budget-0123456789", DEEPSEEK_BASE_URL="http://127.0.0.1:9",
               OPENSEARCH_LLM_CACHE_DIR=str(tmp / "cache"), OPENSEARCH_LLM_STATE_DIR=str(tmp / "state"),
               OPENSEARCH_LLM_JOURNAL_DIR=str(tmp / "runs"))
    return env


@pytest.fixture
def cluster_env(tmp_path: Path) -> Iterator[dict]:
    with DoubleServer(MLDouble(deploy_polls=1)) as server:
        yield cli_env(server.url, tmp_path)


def test_up_and_predict_import_no_schema_launcher_or_fakes(cluster_env: dict) -> None:
    check = subprocess.run([sys.executable, "-m", "opensearch_llm", "validate", BLUEPRINT], cwd=ROOT, env=cluster_env,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr  # validated once: later loads need no jsonschema
    for argv, never in ((["up", BLUEPRINT, "--url", cluster_env["OPENSEARCH_URL"], "--no-preflight"], UP_NEVER),
                        (["predict", BLUEPRINT, "--url", cluster_env["OPENSEARCH_URL"], "--message", "hi"],
                         PREDICT_NEVER)):
        found = offenders(imports(argv, cluster_env), (*HEAVY, *never), ON_A_CLUSTER)
        assert not found, explain(argv, found)
