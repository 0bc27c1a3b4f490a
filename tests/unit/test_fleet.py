"""Several blueprints at once: concurrent up/down/plan/smoke, one outcome each, the worst exit code, and cluster
settings merged safely when the runs touch the same setting at the same time."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensearch_llm import api
from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.errors import ClusterError
from opensearch_llm.fleet import expand, summary, worst
from opensearch_llm.lifecycle.events import RunOptions
from opensearch_llm.resources import settings
from tests.unit.ml_double import MLDouble

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def options(tmp_path: Path) -> RunOptions:
    return RunOptions(journal_dir=str(tmp_path / "runs"), preflight=False, sleep=lambda s: None)


def fleet(count: int) -> list:
    """``count`` copies of deepseek-chat with their own names and each its own endpoint (its own trusted regex)."""
    out = []
    for i in range(count):
        name = f"copy-{i}"
        out.append(load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                                  env={"DEEPSEEK_API_KEY": "sk-fleet-unit-0001",
                                       "DEEPSEEK_BASE_URL": f"https://llm-{i}.example.com"},
                                  overrides=[f"blueprint={name}", f"model_group.name={name}",
                                             f"connector.name={name}", f"model.name={name}"]))
    return out


def test_up_many_merges_every_trusted_entry_and_down_many_restores(double: MLDouble, client, options) -> None:
    before = dict(double.persistent)
    blueprints = fleet(6)
    outcomes = api.up_many(client, blueprints, options=options, smoke=False, jobs=4)
    assert [o.blueprint for o in outcomes] == [bp.name for bp in blueprints] and worst(outcomes) == 0
    trusted = double.persistent[settings.TRUSTED]
    for i in range(6):  # none lost to a concurrent read-modify-write
        assert f"^https://llm\\\\-{i}\\\\.example\\\\.com/.*$" in trusted or \
            any(f"llm\\-{i}" in r or f"llm-{i}" in r for r in trusted), trusted
    assert len(double.models) == 6
    down = api.down_many(client, blueprints, options=options, jobs=4)
    assert worst(down) == 0 and not double.models and not double.connectors and not double.model_groups
    assert double.persistent == before


def test_one_failure_is_its_own_outcome_and_the_worst_exit_code(double: MLDouble, client, options) -> None:
    blueprints = fleet(3)
    double.fail_status("POST", r"/connectors/_create", 400, times=1)
    outcomes = api.up_many(client, blueprints, options=options, smoke=False, jobs=1)
    assert [o.ok for o in outcomes] == [False, True, True]
    assert isinstance(outcomes[0].error, ClusterError) and outcomes[0].exit_code == 1 and worst(outcomes) == 1
    table = summary(outcomes, "up")
    assert table.splitlines()[0].startswith("FAIL  copy-0") and table.endswith("up: 2 ok, 1 failed")
    assert outcomes[1].to_dict()["result"]["ids"]["model"] in double.models
    assert worst(api.down_many(client, blueprints[1:], options=options)) == 0


def test_plan_many_and_smoke_with_jobs(double: MLDouble, client, options) -> None:
    blueprints = fleet(3)
    plans = api.plan_many(client, blueprints, options=options, jobs=3)
    assert all(o.ok and o.result.changes for o in plans)
    runs = api.smoke(client, blueprints, options=options, jobs=3)
    assert [r.blueprint for r in runs] == ["copy-0", "copy-1", "copy-2"] and all(r.ok for r in runs)
    assert not double.models and double.persistent == {}


def test_a_directory_stands_for_its_blueprint_files(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text("x")
    (tmp_path / "a.yml").write_text("x")
    (tmp_path / "notes.txt").write_text("x")
    assert expand([str(tmp_path), "deepseek-chat"]) == [str(tmp_path / "a.yml"), str(tmp_path / "b.yaml"),
                                                         "deepseek-chat"]
