"""Requests per command, counted by a recording proxy in front of a real node (issue 17).

The issue's budget: at most 11 requests for ``up`` of a new blueprint (9 plus "a deploy poll or two"), 5 for
an ``up`` that changes nothing, 7 for ``down``. How many polls a deploy takes depends on the machine (a cold
node's first deploy is slower), so the ``up`` counts are checked without the polls: 9 for a new blueprint,
10 for the first one on a cluster (the cluster UUID is asked once, then known from the journal). The
unchanged ``up`` and ``down`` ceilings are what the tool sends today (8 and 13, not 5 and 7), so that a
request sneaking back in fails here; README "Requests per command" says what each request is for.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.integration.cli_helpers import FIGURES, Cli

# issue 22 moved state and locks into the cluster: a new up now also searches for a group created at the same
# moment (the tie-break), reads the settings again after writing them (no compare-and-set), and drops its lease
# when it finishes; it no longer asks GET / (journals are a crash log). down reads the settings again after
# restoring them. See docs/cluster-state.md.
# 13 without polls: 12 when the settings write can reuse the plan's read (taken less than 0.1 s before, which a
# busy machine does not always manage: then it reads again)
FIRST_UP = 13
NEW_UP = 13
# the issue asks for 5: see the module docstring; 8 since the found connector and model are read again by id (a
# search shows a hand edit only after the next refresh, and drift must show at once)
UNCHANGED_UP = 8
# the issue asks for 7: see the module docstring; 13 since a restore that keeps an entry for another run reads that
# run's group by id first (two downs at once each saw the other's group and kept private IPs on for it)
DOWN = 13
POLL = r"^GET /_plugins/_ml/models/[^/]+$"
WRITE = re.compile(r"^(PUT|DELETE) |/_create$|/_register$|/_undeploy$|/_deploy$")


def _sent(proxy: Any) -> list[str]:
    return [f"{r.method} {r.path.split('?')[0]}" for r in proxy.requests]


def _count(lines: list[str], pattern: str) -> int:
    return sum(1 for line in lines if re.search(pattern, line))


def _up(cli: Cli, proxy: Any, name: str, most: int) -> tuple[int, int]:
    proxy.clear_log()
    up = cli("up", name)
    assert up.code == 0, up
    sent = _sent(proxy)
    polls = _count(sent, POLL)
    # a connector id with a "-" is deleted and made again (resources/connector.py): 2 requests per such id
    remade = _count(sent, r"^POST /_plugins/_ml/connectors/_create$") - 1
    assert _count(sent, r"^DELETE /_plugins/_ml/connectors/") == remade, sent
    assert len(sent) - polls - 2 * remade <= most, "\n".join(sent)
    assert _count(sent, r"^PUT /_cluster/settings$") == 1, sent
    assert _count(sent, r"^POST /_plugins/_ml/models/_register$") == 1 and _count(sent, r"/_predict$") == 1, sent
    return len(sent), polls


def _until_searches_show_deployed(client: Any, name: str) -> None:
    # ML Commons writes DEPLOYED without a refresh: for up to a second a search still shows DEPLOYING, and an
    # `up` in that second reads the model once more by id (7 requests). Later re-runs see the search as is.
    for _ in range(50):
        hits = client.transport.perform_request("POST", "/_plugins/_ml/models/_search",
                                                body={"query": {"term": {"name.keyword": name}}})
        if [h["_source"].get("model_state") for h in hits["hits"]["hits"]] == ["DEPLOYED"]:
            return
        time.sleep(0.1)
    raise AssertionError("the model search never showed the model DEPLOYED")


@pytest.mark.usefixtures("clean_cluster")
def test_requests_per_command_new_up_unchanged_up_and_down(proxied_cli: Cli, fault_proxy: Any,
                                                          opensearch_client: Any) -> None:
    first, first_polls = _up(proxied_cli, fault_proxy, "deepseek-chat", FIRST_UP)
    try:
        later, later_polls = _up(proxied_cli, fault_proxy, "ollama-chat", NEW_UP)
        assert _count(_sent(fault_proxy), r"^GET /$") == 0, "the cluster UUID was asked again"

        _until_searches_show_deployed(opensearch_client, "deepseek-chat")
        fault_proxy.clear_log()
        again = proxied_cli("up", "deepseek-chat")
        assert again.code == 0 and "nothing changed" in again.out, again
        unchanged = _sent(fault_proxy)
        assert len(unchanged) <= UNCHANGED_UP, "\n".join(unchanged)
        assert [line for line in unchanged if WRITE.search(line)] == [], f"an unchanged up wrote: {unchanged}"
    finally:
        fault_proxy.clear_log()
        down = proxied_cli("down", "deepseek-chat")
        removed = _sent(fault_proxy)
        other = proxied_cli("down", "ollama-chat")
    assert down.code == 0 and other.code == 0, f"{down}\n{other}"
    assert len(removed) <= DOWN, "\n".join(removed)
    assert _count(removed, r"/_plugins/_security/authinfo") == 0, "asked who the caller is on a cluster without users"
    assert _count(removed, r"^GET /$") == 0, removed
    FIGURES.setdefault("request_counts", []).append(
        (first, first_polls, later, later_polls, len(unchanged), len(removed)))
