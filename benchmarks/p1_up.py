"""P1: `opensearch-llm up` to DEPLOYED plus the first answer, against the raw script (and 5 s polling).

Goal: median ratio ≤ 1.10 against the raw script, ≤ 1.5 against the stdlib floor (the same sequence on
urllib, no third-party import), ≤ 1.3 against the opensearch-py floor (the same sequence through opensearch-py's
client, the floor of any client built on it), and ≥ 5× faster than the seed scripts' 5 s polling.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (BLUEPRINT, CLI, FLOOR, KEY, OSPY_FLOOR, RAW, Baseline, args, deepseek_setup, report,  # noqa: E402
                      run_pairs, run_rounds, timed_process)


def main() -> None:
    ns = args(__doc__)
    with deepseek_setup(ns) as s:
        state = str(s.work / "raw.json")

        def toolkit() -> float:
            t = timed_process([*CLI, "up", BLUEPRINT], env=s.env, cwd=s.work)
            timed_process([*CLI, "down", BLUEPRINT], env=s.env, cwd=s.work)
            return t

        def baseline(poll: float = 0.01, raw: list = RAW) -> float:
            t = timed_process([*raw, "up", s.url, s.fake_url, KEY, state, "--poll", str(poll)])
            timed_process([*raw, "down", s.url, state])
            return t

        figures = run_rounds(toolkit, [
            Baseline("P1", "`up` to DEPLOYED + first answer vs raw script (tight poll)", baseline, 1.10),
            Baseline("P1 floor", "`up` vs the stdlib floor (same sequence on urllib, no third-party import)",
                     lambda: baseline(raw=FLOOR), 1.5),
            Baseline("P1 opensearch-py floor", "`up` vs the same sequence through opensearch-py's client",
                     lambda: baseline(raw=OSPY_FLOOR), 1.3)], ns.pairs)
        figures.append(run_pairs("P1b", "`up` vs the seed scripts' 5 s polling", toolkit, lambda: baseline(5.0),
                                 min(ns.pairs, 3), goal_ratio=0.20, goal_text="≥ 5× faster (ratio ≤ 0.20)",
                                 warmup=False))
    report(figures, "p1_up")


if __name__ == "__main__":
    main()
