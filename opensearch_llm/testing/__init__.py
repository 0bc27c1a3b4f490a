"""Offline stand-ins for the LLM APIs OpenSearch ML Commons calls in integration tests.

:class:`FakeDeepSeek` and :class:`FakeOllama` are real HTTP servers on 127.0.0.1 speaking the
providers' wire formats, with a request log (:class:`RecordedRequest`) and runtime fault
switches (:class:`Faults`).  Standard library only; importing this package does not import pytest.
"""

from __future__ import annotations

from opensearch_llm.testing._openai_wire import fake_reply
from opensearch_llm.testing._server import FakeServer, Faults, RecordedRequest
from opensearch_llm.testing.fake_deepseek import FakeDeepSeek
from opensearch_llm.testing.fake_ollama import FakeOllama

__all__ = ["FakeDeepSeek", "FakeOllama", "FakeServer", "Faults", "RecordedRequest", "fake_reply"]
