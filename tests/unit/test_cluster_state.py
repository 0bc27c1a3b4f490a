"""The settings record, leases and contention (issue 22), without a node: pure functions and the ML double."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import BusyError, ClusterError, InvalidInputError
from opensearch_llm.lifecycle import lease, ledger
from opensearch_llm.lifecycle.contend import Contended, taken, wait_while_busy
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.lifecycle.naming import Marker, parse_marker, provisioned_by
from opensearch_llm.resources import settings

ROOT = Path(__file__).resolve().parents[2]
DEFAULTS = ("^https://api\\.openai\\.com/.*$",)
LOCAL = "http://127.0.0.1:8089/v1/chat/completions"


def facts(trusted=DEFAULTS, persistent=None, private=False, private_persistent=None) -> settings.SettingsFacts:
    return settings.SettingsFacts(tuple(trusted), persistent, private, private_persistent)


def test_a_record_survives_the_marker_in_characters_ml_commons_accepts() -> None:
    record = ledger.SettingsRecord(("http://127.0.0.1:8089", "http://[::1]:9000"), "96f53ab0f19a", "unset",
                                   (("plugins.ml_commons.rag_pipeline_feature_enabled", "false"),))
    marker = Marker("r1", "bp", "2026-12-07T18:00:00Z", "abc", "up").with_extra(**record.tokens(), host="h")
    text = marker.text()
    assert all(c.isalnum() or c in " .,!?():@-_/'\"" for c in text), text
    assert ledger.record_of(parse_marker(f"description {text}")) == record
    assert ledger.record_of(parse_marker("(opensearch-llm run:x blueprint:b created:2026-12-07T18:00:00Z)")).empty


def test_the_first_run_records_the_values_from_before_and_a_later_one_inherits_them() -> None:
    before = facts(persistent=None)
    change = settings.plan_change(before, [LOCAL])
    first = ledger.record_for(before, change, [LOCAL], (), [])
    assert first.trust == ("http://127.0.0.1:8089",) and first.private_ip == "unset"
    assert first.trusted_default == ledger.list_digest(DEFAULTS)
    after = facts([*DEFAULTS, settings.endpoint_regex(LOCAL)], [*DEFAULTS, settings.endpoint_regex(LOCAL)], True,
                  "true")
    second = ledger.record_for(after, settings.plan_change(after, [LOCAL]), [LOCAL], (), [first])
    assert second == first, "a run on an entry of ours takes over the values from before"
    alone = ledger.record_for(after, settings.plan_change(after, [LOCAL]), [LOCAL], (), [])
    assert alone.empty, "an entry nobody of ours recorded is not ours"


def test_restore_keeps_what_a_staying_run_needs_and_unsets_when_the_last_goes() -> None:
    record = ledger.SettingsRecord(("http://127.0.0.1:8089",), ledger.list_digest(DEFAULTS), "unset")
    now = facts([*DEFAULTS, settings.endpoint_regex(LOCAL)], [*DEFAULTS, settings.endpoint_regex(LOCAL)], True, "true")
    kept = ledger.plan_restore(now, [record], [record])
    assert kept.body == {} and "another run" in kept.notes[0]
    last = ledger.plan_restore(now, [record], [])
    assert last.body == {settings.TRUSTED: None, settings.PRIVATE_IP: None} and not last.conflicts
    used = ledger.plan_restore(now, [record], [], [LOCAL])
    assert settings.TRUSTED not in used.body and used.notes, "a staying connector without a record still needs it"
    only_private = ledger.SettingsRecord(private_ip="unset")
    kept_on = ledger.plan_restore(now, [only_private], [only_private])
    assert kept_on.body == {} and kept_on.notes, "kept for another run: a note, so that the caller lists again"


def test_a_value_changed_by_someone_else_is_left_and_reported() -> None:
    record = ledger.SettingsRecord(("http://127.0.0.1:8089",), None, "unset")
    now = facts([*DEFAULTS, settings.endpoint_regex(LOCAL), "^https://theirs/.*$"],
                [*DEFAULTS, settings.endpoint_regex(LOCAL), "^https://theirs/.*$"], False, "false")
    planned = ledger.plan_restore(now, [record], [])
    assert planned.body == {settings.TRUSTED: [*DEFAULTS, "^https://theirs/.*$"]}, "their entry stays"
    assert planned.conflicts and "changed by someone else" in planned.conflicts[0]


def test_lease_duration_marker_and_liveness(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lease.duration(30, {}) == timedelta(minutes=15)
    assert lease.duration(900, {}) == timedelta(seconds=2100)
    assert lease.duration(0, {lease.LEASE_ENV: "90s"}) == timedelta(seconds=90)
    with pytest.raises(InvalidInputError):
        lease.duration(0, {lease.LEASE_ENV: "soon"})
    now = datetime(2026, 12, 7, 18, 0, tzinfo=timezone.utc)
    marker = Marker("r", "b", "2026-12-07T18:00:00Z").with_extra(**lease.tokens(timedelta(seconds=60), now))
    assert lease.is_live(marker, now + timedelta(seconds=59)) and not lease.is_live(marker, now + timedelta(seconds=61))
    assert not lease.is_live(marker.with_extra(lease=None), now)


def test_provisioned_by_only_where_ml_commons_has_it() -> None:
    assert provisioned_by("2.19.6") == {} and provisioned_by("3.6.0") == {}
    assert provisioned_by("3.7.0") == {"provisioned_by": "opensearch-llm"} == provisioned_by("3.9.0-SNAPSHOT")
    assert provisioned_by("unknown") == {}


def test_a_taken_group_name_is_contention_and_anything_else_is_not() -> None:
    with pytest.raises(Contended):
        taken(ClusterError("The name you provided is already being used by a model group with ID: abc-1.",
                           status=400), "deepseek-chat")
    taken(ClusterError("bad request", status=400), "deepseek-chat")  # no raise


def test_waiting_for_a_busy_run_gives_up_naming_who_and_since_when() -> None:
    class Busy:
        blueprint = "deepseek-chat"
        busy = {"run": "r1", "by": "alice on ci-7", "since": "2026-12-07T18:00:00Z", "until": "2026-12-07T18:15:00Z"}

    with pytest.raises(BusyError) as caught:
        wait_while_busy(Busy(), lambda: Busy(), timeout=0.0, sleep=lambda s: None)
    text = str(caught.value)
    assert "another run is provisioning deepseek-chat since 2026-12-07T18:00:00Z, by alice on ci-7" in text
    assert "down deepseek-chat" in text
    assert wait_while_busy(Busy(), lambda: Busy(), timeout=0.0, dead=lambda run: True).busy, "a dead run: go on"


def _blueprint():
    return load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                          env={"DEEPSEEK_API_KEY": "sk-unit-cluster-state-01", "DEEPSEEK_BASE_URL": "https://x.test"})


def test_two_ups_at_once_in_the_double_end_with_one_set(double, client, tmp_path: Path) -> None:
    start = threading.Barrier(2)
    codes: list = []

    def run(host: str) -> None:  # two hosts: each its own state directory
        options = RunOptions(journal_dir=str(tmp_path / host), preflight=False, sleep=lambda s: None)
        start.wait()
        try:
            api.up(client, _blueprint(), options=options, smoke=False)
            codes.append(0)
        except BusyError:
            codes.append(1)

    threads = [threading.Thread(target=run, args=(host,)) for host in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [0, 0] and len(double.model_groups) == 1 and len(double.connectors) == 1 \
        and len(double.models) == 1
    options = RunOptions(journal_dir=str(tmp_path / "c"), preflight=False, sleep=lambda s: None)
    assert api.down(client, _blueprint(), options=options).clean
    assert not double.persistent.get(settings.TRUSTED)


def test_a_finished_up_drops_its_lease_so_another_host_may_sweep_it(double, client, tmp_path: Path) -> None:
    options = RunOptions(journal_dir=str(tmp_path / "a"), preflight=False, sleep=lambda s: None)
    api.up(client, _blueprint(), options=options, smoke=False)
    group = next(iter(double.model_groups.values()))
    assert parse_marker(group["description"]).get("lease") is None
    elsewhere = RunOptions(journal_dir=str(tmp_path / "b"), preflight=False, sleep=lambda s: None)
    from opensearch_llm.sweep import Filters

    report = api.sweep(client, Filters(include_up=True), delete=True, options=elsewhere)
    assert not report.errors and not double.models and not double.persistent.get(settings.TRUSTED)
