"""P6: a fleet of 100 blueprint copies (distinct names, one fake) `up` then `down`: `-j 8` against one at a time.

One at a time is 100 `up` processes then 100 `down` processes, reported as total seconds. The concurrent
run (`up -j 8 BLUEPRINT...` then `down -j 8 BLUEPRINT...`) is measured only when `up --help` offers
`-j`; until then the row says so instead of a number. Goal: concurrent ≤ 0.25 × one at a time.
Afterwards `status --json` must list none of the fleet's resources and the ML Commons settings must
be what they were before (checked, not timed: a leftover fails the script).
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (BLUEPRINT, CLI, Figure, Setup, args, deepseek_setup, report, run_pairs,  # noqa: E402
                      timed_process)
from raw import PRIVATE, TRUSTED, StdlibSession  # noqa: E402

FLEET = 100
JOBS = 8
PREFIX = "fleet-"
UNAVAILABLE = f"fleet -j {JOBS}: not available (up takes one blueprint)"
NAMED = re.compile(r"^(blueprint|  name): deepseek-chat$", re.MULTILINE)


def write_fleet(work: Path, count: int) -> List[str]:
    """``count`` copies of the DeepSeek chat blueprint whose blueprint, group, connector and model names differ."""
    text = Path(BLUEPRINT).read_text()
    paths = []
    for i in range(count):
        path = work / f"{PREFIX}{i:02d}.yaml"
        path.write_text(NAMED.sub(lambda m, n=f"{PREFIX}{i:02d}": f"{m.group(1)}: {n}", text))
        paths.append(str(path))
    return paths


def has_jobs_option(env: dict) -> bool:
    """Whether `up --help` offers ``-j`` (several blueprints at once)."""
    out = subprocess.run([*CLI, "up", "--help"], env=env, capture_output=True, text=True, check=True).stdout
    return re.search(r"(^|[\s,])-j\b", out) is not None


def one_at_a_time(s: Setup, paths: Sequence[str]) -> float:
    """One `up` process per blueprint, then one `down` each: total seconds."""
    started = time.perf_counter()
    ups = sum(timed_process([*CLI, "up", p], env=s.env, cwd=s.work) for p in paths)
    blocked = []
    for p in paths:
        done = subprocess.run([*CLI, "down", p], env=s.env, cwd=s.work, capture_output=True, text=True)
        if done.returncode == 3 and "models are still using this connector" in done.stderr:
            blocked.append(p)  # ML Commons matched its connector id with another blueprint's model (README)
        elif done.returncode != 0:
            raise RuntimeError(f"down {p} exited {done.returncode}: {done.stderr[-2000:]}")
    # the other blueprints' models are gone now: a second down removes what the first one could not
    for p in blocked:
        timed_process([*CLI, "down", p], env=s.env, cwd=s.work)
    downs = time.perf_counter() - started - ups
    print(f"  one at a time: up {ups:.2f}s + down {downs:.2f}s ({len(blocked)} repeated)", file=sys.stderr)
    return time.perf_counter() - started


def concurrently(s: Setup, paths: Sequence[str]) -> float:
    """`up -j JOBS` of all, then `down -j JOBS` of all: total seconds."""
    started = time.perf_counter()
    timed_process([*CLI, "up", "-j", str(JOBS), *paths], env=s.env, cwd=s.work)
    timed_process([*CLI, "down", "-j", str(JOBS), *paths], env=s.env, cwd=s.work)
    return time.perf_counter() - started


def ml_settings(url: str) -> dict:
    """The persistent ML Commons settings the fleet touches."""
    persistent = StdlibSession().get(f"{url}/_cluster/settings?flat_settings=true").json()["persistent"]
    return {key: persistent.get(key) for key in (TRUSTED, PRIVATE)}


def check_clean(s: Setup, settings_before: dict) -> None:
    """No resource of the fleet is left and the settings are back: else fail (this is correctness, not timing)."""
    listed = subprocess.run([*CLI, "status", "--json", "--all-users"], env=s.env, cwd=s.work, capture_output=True,
                            text=True)
    if listed.returncode not in (0, 1):  # 1: the cluster has a problem (a ghost, drift), listed with the rows
        raise SystemExit(f"status failed: {listed.stderr[-1000:]}")
    rows = json.loads(listed.stdout)
    left = [f"{r['kind']} {r['name']}" for r in rows if "kind" in r and str(r.get("blueprint", "")).startswith(PREFIX)]
    after = ml_settings(s.url)
    if left or after != settings_before:
        raise SystemExit(f"fleet leftovers: {left or 'none'}; settings before {settings_before}, after {after}")
    print("  fleet: zero leftovers, settings restored", file=sys.stderr)


def main() -> None:
    ns = args(__doc__)
    count = 2 if ns.quick else FLEET
    rounds = 1 if ns.quick else min(ns.pairs, 3)
    what = f"{count} blueprints `up` + `down`: `-j {JOBS}` vs one at a time (total)"
    with deepseek_setup(ns) as s:
        paths = write_fleet(s.work, count)
        before = ml_settings(s.url)
        if has_jobs_option(s.env):
            figure = run_pairs("P6", what, lambda: concurrently(s, paths), lambda: one_at_a_time(s, paths), rounds,
                               goal_ratio=0.25, warmup=False)
        else:
            print(UNAVAILABLE, file=sys.stderr)
            total = statistics.median(one_at_a_time(s, paths) for _ in range(rounds))
            nan = float("nan")
            figure = Figure("P6", what, rounds, nan, total, nan, nan, nan, "≤ 0.25", None, note=UNAVAILABLE)
        check_clean(s, before)
    report([figure], "p6_fleet")


if __name__ == "__main__":
    main()
