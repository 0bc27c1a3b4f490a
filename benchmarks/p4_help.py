"""P4: `opensearch-llm --help` cold start against `python -c "import click"`. Goal: median ratio ≤ 1.4."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import args, report, run_pairs, timed_process  # noqa: E402


def main() -> None:
    ns = args(__doc__)
    script = shutil.which("opensearch-llm")
    cmd = [script, "--help"] if script else [sys.executable, "-m", "opensearch_llm", "--help"]
    figures = [run_pairs("P4", "`opensearch-llm --help` vs `python -c \"import click\"`",
                         lambda: timed_process(cmd), lambda: timed_process([sys.executable, "-c", "import click"]),
                         max(ns.pairs, 5) if not ns.quick else 1, goal_ratio=1.4)]
    report(figures, "p4_help")


if __name__ == "__main__":
    main()
