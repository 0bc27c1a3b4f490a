"""Which cluster a journal belongs to (node ids, or the UUID of older journals), and reusing the plan's
settings read: the cheaper ways ``up`` and ``down`` know what they knew before (issue 17)."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from opensearch_llm.lifecycle.journal import Journal, known_uuid, owner_fields, recorded_on_same_cluster, same_cluster
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


def test_with_every_node_replaced_the_recorded_uuid_decides() -> None:
    start = {"cluster_nodes": ["a", "b"], "cluster": "u1"}
    assert same_cluster(start, lambda: {"a"}, never), "a node in common needs no GET /"
    assert same_cluster(start, lambda: {"x", "y"}, lambda: "u1"), "blue/green: new nodes, same cluster"
    assert not same_cluster(start, lambda: {"x"}, lambda: "u2")


def test_an_older_journal_is_matched_by_uuid_and_one_without_a_cluster_matches_without_asking() -> None:
    assert same_cluster({"cluster": "u1"}, lambda: set(), lambda: "u1")
    assert not same_cluster({"cluster": "u1"}, lambda: set(), lambda: "u2")
    assert same_cluster({}, never, never)


def test_two_journals_name_the_same_cluster_only_when_their_records_agree() -> None:
    assert recorded_on_same_cluster({"cluster_nodes": ["a"]}, {"cluster_nodes": ["b", "a"]})
    assert not recorded_on_same_cluster({"cluster_nodes": ["a"]}, {"cluster_nodes": ["b"]})
    assert recorded_on_same_cluster({"cluster": "u"}, {"cluster": "u", "cluster_nodes": ["b"]})
    assert recorded_on_same_cluster({"cluster": "u", "cluster_nodes": ["x"]}, {"cluster": "u", "cluster_nodes": ["y"]})
    assert not recorded_on_same_cluster({"cluster": "u", "cluster_nodes": ["a"]}, {"cluster": "v", "cluster_nodes": ["a"]})
    assert not recorded_on_same_cluster({}, {})


def test_a_later_run_takes_the_uuid_from_a_journal_of_the_same_cluster(tmp_path: Path) -> None:
    Journal.open(tmp_path, "20261130T000000-aaaaaa").write("start", **owner_fields(["n1", "n2"], "u1"))
    Journal.open(tmp_path, "20261130T000001-bbbbbb").write("start", **owner_fields(["m1"]))
    assert known_uuid([tmp_path], {"n2", "n3"}) == "u1"
    assert known_uuid([tmp_path], {"m1"}) == "", "a journal without a UUID gives none"
    assert known_uuid([tmp_path], {"z"}) == ""


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


class _Cluster:
    """``client.cluster`` of a fake whose PUT lets another run's read go first (served before the write lands)."""

    def __init__(self) -> None:
        self.persistent: dict = {}
        self.during_put = lambda: None

    def get_settings(self, **_params: object) -> dict:
        return {"persistent": dict(self.persistent), "transient": {}, "defaults": {}}

    def put_settings(self, body: dict) -> dict:
        self.during_put()
        self.persistent.update(body["persistent"])
        return {"acknowledged": True}


class _Client:
    def __init__(self) -> None:
        self.cluster = _Cluster()


def test_a_read_that_overlapped_a_write_is_never_reused() -> None:
    client = _Client()
    overlapped = []
    client.cluster.during_put = lambda: overlapped.append(settings.read(client))  # another run's plan read
    settings.apply(client, settings.read(client), settings.SettingsChange(add_regexes=("^http://a:1/.*$",)))
    assert overlapped and overlapped[0].trusted == (), "the fake did not serve the read before the write"
    after = settings.read(client, reuse_within=5.0)
    assert after is not overlapped[0] and after.trusted == ("^http://a:1/.*$",)
