"""P2: `opensearch-llm down` against the raw minimal teardown (undeploy, 3 deletes, settings reset).

Goal: median ratio ≤ 1.10.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BLUEPRINT, CLI, KEY, RAW, args, deepseek_setup, report, run_pairs, timed_process  # noqa: E402


def main() -> None:
    ns = args(__doc__)
    with deepseek_setup(ns) as s:
        state = str(s.work / "raw.json")

        def toolkit() -> float:
            timed_process([*CLI, "up", BLUEPRINT, "--no-smoke"], env=s.env, cwd=s.work)
            return timed_process([*CLI, "down", BLUEPRINT], env=s.env, cwd=s.work)

        def baseline() -> float:
            timed_process([*RAW, "up", s.url, s.fake_url, KEY, state])
            return timed_process([*RAW, "down", s.url, state])

        figures = [run_pairs("P2", "`down` vs raw minimal teardown", toolkit, baseline, ns.pairs, goal_ratio=1.10)]
    report(figures, "p2_down")


if __name__ == "__main__":
    main()
