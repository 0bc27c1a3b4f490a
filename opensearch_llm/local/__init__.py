"""A real local OpenSearch + ML Commons node without Docker (``LocalNode``)."""

from opensearch_llm.local.node import LocalNode, NodeInfo, is_ready, read_state
from opensearch_llm.local.versions import DEFAULT_LINE, LINES, resolve

__all__ = ["DEFAULT_LINE", "LINES", "LocalNode", "NodeInfo", "is_ready", "read_state", "resolve"]
