"""Run the real CLI as a subprocess and check that no secret reaches any captured output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Optional

ROOT = Path(__file__).resolve().parents[2]
CONNECTORS = ROOT / "connectors"
SCANNED = {"outputs": 0}  # reported by the secret scanner's terminal summary
FIGURES: dict = {"faults_injected": 0, "fault_cases": 0, "leftovers_before_sweep": 0, "leftovers_after_sweep": 0,
                 "random_faults": 0, "bad_blueprints": 0, "bad_exit2_located": 0, "bad_cluster_requests": 0}


@dataclass
class Result:
    """A finished CLI run."""

    args: list
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def __str__(self) -> str:
        return f"opensearch-llm {' '.join(self.args)} -> {self.code}\n--- stdout\n{self.out}\n--- stderr\n{self.err}"


class Cli:
    """The CLI with a fixed environment; every captured output is scanned for ``secrets``."""

    def __init__(self, cwd: Path, env: dict, secrets: Iterable[str] = ()) -> None:
        self.cwd, self.env, self.secrets = cwd, env, [s for s in secrets if s]
        self.outputs: list[str] = []

    def __call__(self, *args: str, extra_env: Optional[dict] = None, timeout: float = 180.0,
                 input: Optional[str] = None) -> Result:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_"))}
        env.update(self.env)
        env.update(extra_env or {})
        proc = subprocess.run([sys.executable, "-m", "opensearch_llm", *args], cwd=self.cwd, env=env,
                              capture_output=True, text=True, timeout=timeout, input=input)
        result = Result(list(args), proc.returncode, proc.stdout, proc.stderr)
        self.outputs += [proc.stdout, proc.stderr]
        self.assert_no_secret(proc.stdout + proc.stderr)
        return result

    def assert_no_secret(self, text: str) -> None:
        """Fail when any configured secret value appears in ``text``."""
        SCANNED["outputs"] += 1
        for secret in self.secrets:
            assert secret not in text, "a secret leaked into captured output"

    def scan_files(self, root: Path) -> int:
        """Scan every file under ``root`` (journals, reports) for secrets; return how many were read."""
        count = 0
        for path in root.rglob("*"):
            if path.is_file():
                self.assert_no_secret(path.read_text(errors="replace"))
                count += 1
        return count
