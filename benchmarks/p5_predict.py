"""P5: `opensearch-llm predict` against one raw `_predict` request from a fresh process. Goal: ≤ 1.2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import BLUEPRINT, CLI, RAW, args, deepseek_setup, report, run_pairs, timed_process  # noqa: E402


def main() -> None:
    ns = args(__doc__)
    with deepseek_setup(ns) as s:
        up = subprocess.run([*CLI, "up", BLUEPRINT, "--json", "--no-smoke"], env=s.env, cwd=s.work,
                            capture_output=True, text=True, check=True)
        model_id = json.loads(up.stdout)["ids"]["model"]
        try:
            figures = [run_pairs(
                "P5", "`predict --message hi` vs one raw `_predict` from a fresh process",
                lambda: timed_process([*CLI, "predict", BLUEPRINT, "--message", "hi"], env=s.env, cwd=s.work),
                lambda: timed_process([*RAW, "predict", s.url, model_id]), ns.pairs, goal_ratio=1.2)]
        finally:
            timed_process([*CLI, "down", BLUEPRINT], env=s.env, cwd=s.work)
    report(figures, "p5_predict")


if __name__ == "__main__":
    main()
