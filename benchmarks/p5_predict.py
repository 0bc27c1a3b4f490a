"""P5: `opensearch-llm predict` against one raw `_predict` request from a fresh process.

Goal: ≤ 1.2 against the `requests` script, ≤ 1.3 against the stdlib floor (urllib, no third-party import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import (BLUEPRINT, CLI, FLOOR, OSPY_FLOOR, RAW, Baseline, args, deepseek_setup, report,  # noqa: E402
                      run_rounds, timed_process)


def main() -> None:
    ns = args(__doc__)
    with deepseek_setup(ns) as s:
        up = subprocess.run([*CLI, "up", BLUEPRINT, "--json", "--no-smoke"], env=s.env, cwd=s.work,
                            capture_output=True, text=True, check=True)
        model_id = json.loads(up.stdout)["ids"]["model"]
        try:
            figures = run_rounds(
                lambda: timed_process([*CLI, "predict", BLUEPRINT, "--message", "hi"], env=s.env, cwd=s.work), [
                    Baseline("P5", "`predict --message hi` vs one raw `_predict` from a fresh process",
                             lambda: timed_process([*RAW, "predict", s.url, model_id]), 1.2),
                    Baseline("P5 floor", "`predict` vs the stdlib floor (one `_predict` on urllib)",
                             lambda: timed_process([*FLOOR, "predict", s.url, model_id]), 1.3),
                    Baseline("P5 opensearch-py floor", "`predict` vs one `_predict` through opensearch-py's client",
                             lambda: timed_process([*OSPY_FLOOR, "predict", s.url, model_id]), 1.3)], ns.pairs)
        finally:
            timed_process([*CLI, "down", BLUEPRINT], env=s.env, cwd=s.work)
    report(figures, "p5_predict")


if __name__ == "__main__":
    main()
