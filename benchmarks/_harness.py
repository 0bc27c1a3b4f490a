"""Paired measurements: toolkit and baseline alternate in the same run on the same node.

Each benchmark script defines two zero-argument callables that each perform one measured
operation (usually a fresh process) and return seconds; ``run_pairs`` alternates them,
reports the median ratio (toolkit / baseline) and its spread, and checks it against a goal.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KEY = "sk-bench-0123456789abcdef"
BLUEPRINT = str(ROOT / "connectors" / "deepseek-chat.yaml")
CLI = [sys.executable, "-m", "opensearch_llm"]
RAW = [sys.executable, str(ROOT / "benchmarks" / "raw.py")]
FLOOR = [*RAW, "--stdlib"]  # the same sequence on urllib: no third-party import
# the same sequence through opensearch-py: the floor for any client built on it (issue 24's yardstick)
OSPY_FLOOR = [*RAW, "--opensearchpy"]


@dataclass
class Figure:
    """One benchmark's outcome."""

    name: str
    what: str
    pairs: int
    toolkit_median: float
    baseline_median: float
    ratio_median: float
    ratio_min: float
    ratio_max: float
    goal: str
    met: Optional[bool]
    note: str = ""  # shown instead of the toolkit figure when the toolkit cannot run it (then ratios are nan)

    def row(self) -> str:
        """A Markdown table row."""
        verdict = {True: "met", False: "MISSED", None: "-"}[self.met]
        if self.note:
            return (f"| {self.name} | {self.what} | {self.pairs} | {self.note} | {self.baseline_median:.3f} s | - | - | "
                    f"{self.goal} | {verdict} |")
        return (f"| {self.name} | {self.what} | {self.pairs} | {self.toolkit_median:.3f} s | "
                f"{self.baseline_median:.3f} s | {self.ratio_median:.2f} | {self.ratio_min:.2f}–{self.ratio_max:.2f} | "
                f"{self.goal} | {verdict} |")


HEADER = ("| figure | toolkit vs baseline | pairs | toolkit (median) | baseline (median) | ratio (median) | "
          "ratio spread | goal | |\n|---|---|---|---|---|---|---|---|---|")


def args(description: str) -> argparse.Namespace:
    """Common options: --pairs, --quick (one pair, for CI), --url (existing cluster)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one pair: keeps the script working in CI")
    parser.add_argument("--url", default=os.environ.get("OPENSEARCH_URL"), help="use this cluster")
    parser.add_argument("--version", default=None, help="local node line when no --url (2.19 or 3)")
    ns = parser.parse_args()
    if ns.quick:
        ns.pairs = 1
    compile_package()
    return ns


def compile_package() -> None:
    """Write the package's bytecode once, as ``pip install`` does: with ``PYTHONDONTWRITEBYTECODE`` set (as on the
    CI machines) an editable checkout would otherwise compile every module from source in every process, a cost
    (about 85 ms per command) that an installed wheel never pays and opensearch-py, installed by pip, does not."""
    import compileall

    compileall.compile_dir(str(ROOT / "opensearch_llm"), quiet=1)


@dataclass
class Baseline:
    """One thing the toolkit is compared with: a zero-argument callable returning seconds, and its figure."""

    name: str
    what: str
    run: Callable[[], float]
    goal_ratio: Optional[float] = None
    goal_text: str = ""


def run_rounds(toolkit: Callable[[], float], baselines: Sequence[Baseline], pairs: int,
               warmup: bool = True) -> List[Figure]:
    """Run the toolkit and every baseline once per round, ``pairs`` rounds, rotating who goes first.

    With one baseline the order flips every pair; with two (the ``requests`` script and the stdlib
    floor) each takes every position in turn. Ratios are taken within a round, one Figure per baseline.
    """
    runners = [toolkit, *(b.run for b in baselines)]
    if warmup:
        for run in runners:
            run()
    samples: List[List[float]] = [[] for _ in runners]
    for i in range(pairs):
        order = list(range(len(runners)))
        for j in order[i % len(runners):] + order[:i % len(runners)]:
            samples[j].append(runners[j]())
        for b, taken in zip(baselines, samples[1:]):
            t, b_ = samples[0][-1], taken[-1]
            print(f"  {b.name} pair {i + 1}: toolkit {t:.3f}s baseline {b_:.3f}s ratio {_ratio(t, b_):.2f}",
                  file=sys.stderr)
    figures = []
    for b, taken in zip(baselines, samples[1:]):
        ratios = [_ratio(t, b_) for t, b_ in zip(samples[0], taken)]
        ratio = statistics.median(ratios)
        figures.append(Figure(b.name, b.what, pairs, statistics.median(samples[0]), statistics.median(taken), ratio,
                              min(ratios), max(ratios), b.goal_text or (f"≤ {b.goal_ratio:.2f}" if b.goal_ratio else ""),
                              None if b.goal_ratio is None else ratio <= b.goal_ratio))
    return figures


def _ratio(toolkit: float, baseline: float) -> float:
    return toolkit / baseline if baseline > 0 else float("inf")


def run_pairs(name: str, what: str, toolkit: Callable[[], float], baseline: Callable[[], float], pairs: int,
              goal_ratio: Optional[float] = None, goal_text: str = "", warmup: bool = True) -> Figure:
    """Alternate toolkit and baseline ``pairs`` times (order flips each pair) and summarise."""
    return run_rounds(toolkit, [Baseline(name, what, baseline, goal_ratio, goal_text)], pairs, warmup)[0]


def timed_process(cmd: Sequence[str], env: Optional[dict] = None, cwd: Optional[Path] = None,
                  check: bool = True) -> float:
    """Wall time of one fresh process."""
    started = time.perf_counter()
    proc = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if check and proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return elapsed


@contextmanager
def cluster(ns: argparse.Namespace) -> Iterator[str]:
    """The cluster URL: --url, or a local node started (and stopped) for the benchmark."""
    if ns.url:
        yield ns.url
        return
    from opensearch_llm.local import LocalNode

    with LocalNode(ns.version, name=f"bench-{os.getpid()}") as node:
        yield node.url


@dataclass
class Setup:
    """A cluster, the fake DeepSeek, the CLI's environment and a scratch directory."""

    url: str
    fake_url: str
    env: dict
    work: Path


@contextmanager
def deepseek_setup(ns: argparse.Namespace) -> Iterator[Setup]:
    """The cluster under test plus a fake DeepSeek; the CLI environment points at both."""
    from opensearch_llm.testing.fake_deepseek import FakeDeepSeek

    work = Path(tempfile.mkdtemp(prefix="bench-"))
    with cluster(ns) as url, FakeDeepSeek(api_key=KEY) as fake:
        env = {**os.environ, "OPENSEARCH_URL": url, "DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": fake.url,
               "OPENSEARCH_LLM_JOURNAL_DIR": str(work / "runs")}
        yield Setup(url, fake.url, env, work)


def machine() -> str:
    """A one-line description of this machine."""
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{platform.machine()} {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def report(figures: Sequence[Figure], name: str) -> None:
    """Print the table and save JSON next to the scripts."""
    print(HEADER)
    for fig in figures:
        print(fig.row())
    if any(f.pairs < 2 for f in figures):
        return  # --quick keeps the scripts working; it is not a measurement worth saving
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(
        {"machine": machine(), "figures": [asdict(f) for f in figures]}, indent=2))
