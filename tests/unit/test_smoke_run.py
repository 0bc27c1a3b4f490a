"""SmokeRun never holds a secret, however its error text gets there."""

from __future__ import annotations

from opensearch_llm.api import SmokeRun
from opensearch_llm.secrets import register_secret

KEY = "sk-smoke-run-000000000042"


def test_a_smoke_runs_error_is_masked_when_it_is_made_and_when_it_is_set() -> None:
    register_secret(KEY)
    made = SmokeRun("deepseek-chat", "run", False, 0.0, error=f"refused {KEY}")
    assert KEY not in made.error and KEY not in str(made.to_dict())
    made.error = f"again {KEY}"
    assert KEY not in made.error
