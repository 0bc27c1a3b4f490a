"""An example suite: provision the shipped DeepSeek blueprint once, test through it, always tear it down.

Runs offline: the blueprint points at the fake DeepSeek of ``conftest.py`` through the ``env``
argument of ``provision`` (``DEEPSEEK_BASE_URL``/``DEEPSEEK_API_KEY``).  Against the real API, drop
``env`` and export ``DEEPSEEK_API_KEY`` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from opensearch_llm import api
from opensearch_llm.testing import fake_reply
from opensearch_llm.testing.plugin import ProvisionedBlueprint, provision

BLUEPRINT = Path(__file__).resolve().parents[2] / "connectors" / "deepseek-chat.yaml"


def _fake_env(request: pytest.FixtureRequest) -> dict:
    fake = request.getfixturevalue("deepseek_api")
    return {"DEEPSEEK_BASE_URL": fake.url, "DEEPSEEK_API_KEY": fake.api_key}


# One fixture named `deepseek`: up (with the smoke probe) before the first test of the module,
# down --run after the last one, whether the tests pass or fail.
deepseek = provision(BLUEPRINT, scope="module", env=_fake_env, overrides=["deploy.timeout=90s"])


def test_smoke_probe_passed(deepseek: ProvisionedBlueprint) -> None:
    assert deepseek.smoke is not None and deepseek.smoke.ok
    assert deepseek.smoke.answer.lower() == "pong"


def test_model_answers(deepseek: ProvisionedBlueprint) -> None:
    answer = deepseek.predict("What is OpenSearch?")
    assert answer.text == fake_reply([{"role": "user", "content": "What is OpenSearch?"}])
    assert answer.model_id == deepseek.model_id


def test_system_prompt_and_history_reach_the_provider(deepseek: ProvisionedBlueprint, deepseek_api: Any) -> None:
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Echo: hi"}]
    deepseek.predict("and now?", system="Be brief", history=history)
    sent = deepseek_api.last_request("/chat/completions")
    assert sent is not None and sent.headers["authorization"] == f"Bearer {deepseek_api.api_key}"
    assert [m["role"] for m in sent.json["messages"]] == ["system", "user", "assistant", "user"]


def test_resources_carry_this_run(deepseek: ProvisionedBlueprint, opensearch_client: Any) -> None:
    rows = [r for r in api.status(opensearch_client) if r["run"] == deepseek.run_id]
    assert {r["kind"] for r in rows} == {"model_group", "connector", "model"}
    assert set(deepseek.ids) == {"model_group", "connector", "model"}
