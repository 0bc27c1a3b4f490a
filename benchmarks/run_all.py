"""Run every benchmark and print one table: ``python benchmarks/run_all.py [--quick]``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["p1_up.py", "p2_down.py", "p3_sweep.py", "p4_help.py", "p5_predict.py", "p6_fleet.py"]


def main() -> int:
    extra = sys.argv[1:]
    rows = []
    for script in SCRIPTS:
        print(f"running {script} {' '.join(extra)}", file=sys.stderr)
        out = subprocess.run([sys.executable, str(HERE / script), *extra], check=True, stdout=subprocess.PIPE,
                             text=True).stdout
        rows += [line for line in out.splitlines() if line.startswith("| P")]
    sys.path.insert(0, str(HERE))
    from _harness import HEADER, machine

    print(f"machine: {machine()}\n")
    print(HEADER)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
