"""P3: `opensearch-llm sweep --yes` of 100 leftover sets (300 resources) against deleting them one by one.

Leftovers are made the way a crashed run leaves them: model group, connector and registered model
carrying our ownership marker. Goal: median ratio ≤ 0.35.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _harness import ROOT, args, cluster, report, run_pairs, timed_process  # noqa: E402

import requests  # noqa: E402

from opensearch_llm.lifecycle.naming import Marker, new_run_id, now_utc, with_marker  # noqa: E402

ML = "/_plugins/_ml"


def _create(session: requests.Session, url: str, body: dict, key: str) -> str:
    answer = session.post(url, json=body)
    answer.raise_for_status()  # no blind retry: a 503 here may still have created the resource
    return answer.json()[key]


def warm_up(url: str) -> None:
    """Create each ML system index once, sequentially: first creates on a fresh node race the
    index creation and answer 503 (sometimes after creating the resource anyway)."""
    from opensearch_llm.client import ConnectionSettings, connect
    from opensearch_llm.lifecycle.events import RunOptions
    from opensearch_llm.lifecycle.removal import remove_run
    from opensearch_llm.lifecycle.journal import Journal

    session = requests.Session()
    run = new_run_id()
    desc = with_marker("bench warm-up", Marker(run, "bench", now_utc(), kind="smoke"))
    for _ in range(40):
        try:
            group = _create(session, f"{url}{ML}/model_groups/_register", {"name": f"bench-{run}", "description": desc},
                            "model_group_id")
            conn = _create(session, f"{url}{ML}/connectors/_create", _connector(run, desc), "connector_id")
            _create(session, f"{url}{ML}/models/_register", {"name": f"bench-{run}", "function_name": "remote",
                                                             "description": desc, "model_group_id": group,
                                                             "connector_id": conn}, "model_id")
            break
        except requests.HTTPError:
            time.sleep(0.5)
    client = connect(ConnectionSettings(url=url))
    remove_run(client, Journal(Path(tempfile.mkdtemp()) / f"{run}.jsonl"), RunOptions())


def _connector(run: str, desc: str) -> dict:
    return {"name": f"bench-{run}", "description": desc, "version": "1", "protocol": "http",
            "parameters": {"endpoint": "api.deepseek.com"}, "credential": {"k": "unused-bench"},
            "actions": [{"action_type": "predict", "method": "POST", "url": "https://${parameters.endpoint}/x",
                         "request_body": "{}"}]}


def make_leftovers(url: str, sets: int) -> list[dict]:
    """``sets`` crashed runs' worth of resources, in deletion order (model, connector, group per set)."""
    session = requests.Session()

    def one(i: int) -> list[dict]:
        run = new_run_id()
        desc = with_marker("bench leftover", Marker(run, "bench", now_utc(), kind="smoke"))
        group = _create(session, f"{url}{ML}/model_groups/_register",
                        {"name": f"bench-{run}-{i}", "description": desc}, "model_group_id")
        conn = _create(session, f"{url}{ML}/connectors/_create", _connector(run, desc), "connector_id")
        model = _create(session, f"{url}{ML}/models/_register", {
            "name": f"bench-{run}", "function_name": "remote", "description": desc,
            "model_group_id": group, "connector_id": conn}, "model_id")
        return [{"kind": "model", "id": model}, {"kind": "connector", "id": conn}, {"kind": "model_group", "id": group}]

    with ThreadPoolExecutor(4) as pool:
        return [item for chunk in pool.map(one, range(sets)) for item in chunk]


def main() -> None:
    ns = args(__doc__)
    sets = 10 if ns.quick else 100
    work = Path(tempfile.mkdtemp(prefix="bench-p3-"))
    with cluster(ns) as url:
        warm_up(url)
        env = {**os.environ, "OPENSEARCH_URL": url, "OPENSEARCH_LLM_JOURNAL_DIR": str(work / "runs")}
        ids_file = work / "ids.json"

        def toolkit() -> float:
            make_leftovers(url, sets)
            return timed_process([sys.executable, "-m", "opensearch_llm", "sweep", "--yes", "--concurrency", "8"],
                                 env=env, cwd=work)

        def baseline() -> float:
            ids_file.write_text(json.dumps(make_leftovers(url, sets)))
            return timed_process([sys.executable, str(ROOT / "benchmarks" / "raw.py"), "delete-each", url, str(ids_file)])

        figures = [run_pairs("P3", f"`sweep --yes` of {sets} sets ({3 * sets} resources) vs one-by-one deletes",
                             toolkit, baseline, max(1, min(ns.pairs, 5)), goal_ratio=0.35, warmup=False)]
    report(figures, "p3_sweep")


if __name__ == "__main__":
    main()
