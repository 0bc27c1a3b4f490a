"""Fixtures of the example suite: an offline DeepSeek for the whole session.

No ``pytest_plugins`` line is needed: installing opensearch-llm registers its pytest plugin
(entry point ``opensearch_llm.testing.plugin``), which brings ``opensearch_client`` and
``provision``'s cluster.  See README.md for running it without the entry point.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from opensearch_llm.testing import FakeDeepSeek

# Not a real key: the fake accepts exactly this one, so the connector's credential is exercised end to end.
API_KEY = "sk-example-offline-0123456789"


@pytest.fixture(scope="session")
def deepseek_api() -> Iterator[FakeDeepSeek]:
    """The offline DeepSeek stand-in on 127.0.0.1, shared by every test of the session."""
    with FakeDeepSeek(api_key=API_KEY) as server:
        yield server
