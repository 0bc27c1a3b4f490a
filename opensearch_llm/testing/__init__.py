"""Offline stand-ins for the LLM APIs OpenSearch ML Commons calls in integration tests.

:class:`FakeDeepSeek` and :class:`FakeOllama` are real HTTP servers on 127.0.0.1 speaking the
providers' wire formats, with a request log (:class:`RecordedRequest`) and runtime fault
switches (:class:`Faults`).  Standard library only; importing this package does not import pytest.
"""

from __future__ import annotations

import importlib
from typing import Any

# imported on first use, so `python -m opensearch_llm.testing.fake_deepseek` does not import itself twice
_EXPORTS = {
    "FakeDeepSeek": "opensearch_llm.testing.fake_deepseek",
    "FakeOllama": "opensearch_llm.testing.fake_ollama",
    "FakeServer": "opensearch_llm.testing._server",
    "Faults": "opensearch_llm.testing._server",
    "RecordedRequest": "opensearch_llm.testing._server",
    "fake_reply": "opensearch_llm.testing._openai_wire",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'opensearch_llm.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value
