"""Shared test configuration. The opensearch_llm pytest plugin comes from its entry point."""

from __future__ import annotations

import os

import pytest

_SCRUBBED_PREFIXES = ("DEEPSEEK_", "OLLAMA_", "OPENSEARCH_USERNAME", "OPENSEARCH_PASSWORD")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests are hermetic: no provider keys or credentials leak in from the caller's shell."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED_PREFIXES):
            monkeypatch.delenv(name, raising=False)
