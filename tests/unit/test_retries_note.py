"""What plan says the cluster does with a connector's retry settings (issue 25): by ML Commons version."""

from __future__ import annotations

from pathlib import Path

from opensearch_llm.blueprint import load_blueprint
from opensearch_llm.lifecycle.retries import retry_note

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = {"max_retry_times": 3, "retry_backoff_policy": "exponential_full_jitter", "retry_timeout_seconds": 30}


def test_before_3_8_only_aws_throttling_is_retried_in_the_cluster() -> None:
    for version in ("2.19.6", "3.6.0", "3.7.1"):
        note = retry_note(SHIPPED, version)
        assert "only AWS throttling" in note and "does nothing for this provider" in note, note


def test_from_3_8_any_429_and_5xx_is_retried_for_consumers_too() -> None:
    note = retry_note(SHIPPED, "3.8.0")
    assert "retries the provider's 429 and 5xx up to 3 times" in note and "exponential_full_jitter" in note
    assert "RAG pipelines and agents too" in note
    assert "without limit" in retry_note({"max_retry_times": -1}, "3.9.0")


def test_no_retry_setting_means_only_ours() -> None:
    assert "does not retry" in retry_note({}, "3.9.0") and "predict, chat and smoke retry" in retry_note({}, "2.19.6")


def test_the_shipped_deepseek_blueprints_retry_and_the_local_ollama_ones_do_not() -> None:
    for name, times in (("deepseek-chat", 3), ("deepseek-rag", 3), ("deepseek-reasoner", 3), ("ollama-chat", 0)):
        bp = load_blueprint(ROOT / "connectors" / f"{name}.yaml", env_file=False,
                            env={"DEEPSEEK_API_KEY": "sk-unit-retries-0001"})
        assert int(bp.connector.body["client_config"].get("max_retry_times", 0)) == times, name


def test_plan_prints_the_retries_line_for_the_cluster_version(client, tmp_path: Path) -> None:
    from opensearch_llm import api
    from opensearch_llm.lifecycle.events import RunOptions

    bp = load_blueprint(ROOT / "connectors" / "deepseek-chat.yaml", env_file=False,
                        env={"DEEPSEEK_API_KEY": "sk-unit-retries-0001"})
    planned = api.plan(client, bp, options=RunOptions(journal_dir=str(tmp_path), preflight=False))
    assert "retries: ML Commons 2.19.6 retries only AWS throttling" in api.render_plan(planned)
    assert planned.to_dict()["retries"].startswith("ML Commons 2.19.6")
