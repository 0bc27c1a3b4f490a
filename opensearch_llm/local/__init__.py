"""A real local OpenSearch + ML Commons node (``LocalNode``) or multi-node cluster (``LocalCluster``) without Docker."""

from opensearch_llm.local.cluster import LocalCluster
from opensearch_llm.local.node import LocalNode, NodeInfo, is_ready, local_connection, read_state
from opensearch_llm.local.versions import DEFAULT_LINE, LINES, SECURE_VERSION, resolve

__all__ = ["DEFAULT_LINE", "LINES", "SECURE_VERSION", "LocalCluster", "LocalNode", "NodeInfo", "is_ready",
           "local_connection", "read_state", "resolve"]
