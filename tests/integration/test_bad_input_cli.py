"""The bad-input corpus through the real CLI: exit 2, file:line, and not one request reaches the cluster."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tests.integration.cli_helpers import FIGURES, Cli
from tests.unit.test_bad_corpus import CORPUS, ENV, SECRET, _expectations

LOCATED = re.compile(r"\.yaml:\d+: ")


def test_every_bad_blueprint_exits_2_with_location_and_no_cluster_call(tmp_path: Path, fault_proxy: Any) -> None:
    cli = Cli(tmp_path, {**ENV, "OPENSEARCH_URL": fault_proxy.url}, secrets=[SECRET])

    def run(path: Path) -> tuple:
        fragment, _line = _expectations(path)
        return path, fragment, cli("up", str(path), timeout=60)

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(run, CORPUS))
    failures = []
    for path, fragment, result in results:
        if result.code != 2 or fragment not in result.err or path.name not in result.err:
            failures.append(f"{path.name}: exit {result.code}: {result.err[-300:]}")
        elif not LOCATED.search(result.err) and "YAML syntax" not in fragment and "empty" not in fragment:
            failures.append(f"{path.name}: no file:line in {result.err[-300:]}")
    FIGURES["bad_blueprints"] += len(results)
    FIGURES["bad_exit2_located"] += len(results) - len(failures)
    FIGURES["bad_cluster_requests"] += len(fault_proxy.requests)
    assert not failures, "\n".join(failures)
    assert len(results) >= 60
    assert fault_proxy.requests == [], "a request reached the cluster"
