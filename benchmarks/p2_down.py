"""P2: `opensearch-llm down` against the raw minimal teardown (undeploy, 3 deletes, settings reset).

Goal: median ratio ≤ 1.10 against the raw script, ≤ 1.5 against the stdlib floor (no third-party import).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (BLUEPRINT, CLI, FLOOR, KEY, OSPY_FLOOR, RAW, Baseline, args, deepseek_setup, report,  # noqa: E402
                      run_rounds, timed_process)


def main() -> None:
    ns = args(__doc__)
    with deepseek_setup(ns) as s:
        state = str(s.work / "raw.json")

        def toolkit() -> float:
            timed_process([*CLI, "up", BLUEPRINT, "--no-smoke"], env=s.env, cwd=s.work)
            return timed_process([*CLI, "down", BLUEPRINT], env=s.env, cwd=s.work)

        def baseline(raw: list = RAW) -> float:
            timed_process([*raw, "up", s.url, s.fake_url, KEY, state])
            return timed_process([*raw, "down", s.url, state])

        figures = run_rounds(toolkit, [
            Baseline("P2", "`down` vs raw minimal teardown", baseline, 1.10),
            Baseline("P2 floor", "`down` vs the stdlib floor (same teardown on urllib)", lambda: baseline(FLOOR), 1.5),
            Baseline("P2 opensearch-py floor", "`down` vs the same teardown through opensearch-py's client",
                     lambda: baseline(OSPY_FLOOR), 1.3)],
            ns.pairs)
    report(figures, "p2_down")


if __name__ == "__main__":
    main()
