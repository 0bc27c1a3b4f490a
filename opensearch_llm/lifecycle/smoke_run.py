"""One blueprint's smoke run: up with run-scoped names → probe (and each fallback's) → down, always."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Optional

from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.journal import journal_dirs
from opensearch_llm.lifecycle.naming import SMOKE, new_run_id
from opensearch_llm.lifecycle.smoke import SmokeRun

if TYPE_CHECKING:
    from opensearchpy import OpenSearch

    from opensearch_llm.blueprint.model import Blueprint
    from opensearch_llm.lifecycle.report import TeardownReport


def smoke_one(client: "OpenSearch", blueprint: "Blueprint", options: RunOptions) -> SmokeRun:
    """up → probe → down with run-scoped names; the teardown always runs (the preflight ran before)."""
    from opensearch_llm.lifecycle import removal
    from opensearch_llm.lifecycle.up_run import journal_of, run_up

    run_id = new_run_id()
    started = time.perf_counter()
    result = SmokeRun(blueprint=blueprint.name, run_id=run_id, ok=False, seconds=0.0)
    rolled_back: Optional["TeardownReport"] = None
    try:
        up_result = run_up(client, blueprint, options=options, run_id=run_id, mode=SMOKE)
        result.smoke, result.ok = up_result.smoke, True
        result.checks = up_result.smoke.checks if up_result.smoke else []
        if blueprint.fallback:
            from opensearch_llm.lifecycle.fallback import probe_fallbacks_of

            probe_fallbacks_of(client, blueprint, options, result)
    except Exception as exc:  # noqa: BLE001 - recorded per blueprint, the next one still runs
        result.error = str(exc)
        result.checks = list(getattr(exc, "checks", []))
        rolled_back = getattr(exc, "rollback_report", None)
    finally:
        report = removal.remove_run(client, journal_of(options, run_id), options,
                                    journal_dirs(override=options.journal_dir))
        if rolled_back is not None:  # the rollback removed the run already: say what it removed
            rolled_back.merge(report)
            report = rolled_back
        result.teardown = report.to_dict()
        result.seconds = time.perf_counter() - started
        if not report.clean:
            result.ok = False
    return result
