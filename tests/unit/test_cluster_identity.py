"""Which cluster a journal belongs to (node ids, or the UUID of older journals), and reusing the plan's
settings read: the cheaper ways ``up`` and ``down`` know what they knew before (issue 17)."""

from __future__ import annotations

from typing import NoReturn

import pytest

from opensearch_llm.lifecycle.journal import recorded_on_same_cluster, same_cluster
from opensearch_llm.resources import settings
from tests.unit.ml_double import MLDouble, double_client


def never() -> NoReturn:
    raise AssertionError("asked the cluster although the journal did not need it")


@pytest.mark.parametrize("recorded, now, same", [
    (["a", "b"], {"b", "c"}, True),  # a node added, another replaced: still the cluster
    (["a", "b"], {"c"}, False),  # a new cluster at the same address has new node ids
])
def test_a_journal_with_node_ids_is_matched_by_a_node_in_common(recorded: list, now: set, same: bool) -> None:
    assert same_cluster({"cluster_nodes": recorded}, lambda: now, never) is same


def test_an_older_journal_is_matched_by_uuid_and_one_without_a_cluster_matches_without_asking() -> None:
    assert same_cluster({"cluster": "u1"}, never, lambda: "u1")
    assert not same_cluster({"cluster": "u1"}, never, lambda: "u2")
    assert same_cluster({}, never, never)


def test_two_journals_name_the_same_cluster_only_when_their_records_agree() -> None:
    assert recorded_on_same_cluster({"cluster_nodes": ["a"]}, {"cluster_nodes": ["b", "a"]})
    assert not recorded_on_same_cluster({"cluster_nodes": ["a"]}, {"cluster_nodes": ["b"]})
    assert recorded_on_same_cluster({"cluster": "u"}, {"cluster": "u"})
    assert not recorded_on_same_cluster({"cluster_nodes": ["a"]}, {"cluster": "u"})
    assert not recorded_on_same_cluster({}, {})


def test_the_plan_read_serves_the_write_unless_this_process_wrote_since() -> None:
    double = MLDouble()
    client = double_client(double)

    def reads() -> int:
        return double.count("GET", "/_cluster/settings")

    first = settings.read(client)
    assert settings.read(client, reuse_within=5.0) is first and reads() == 1
    assert settings.read(client) is not first and reads() == 2, "a read without reuse_within asks the cluster"
    settings.apply(client, first, settings.SettingsChange(enable_private_ip=True))
    again = settings.read(client, reuse_within=5.0)
    assert reads() == 3 and again.private_ip, "a write of this process must force a fresh read"
    assert settings.read(client, reuse_within=0.0) is not again and reads() == 4
