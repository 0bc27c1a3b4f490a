"""A real local OpenSearch + ML Commons node (``LocalNode``) or multi-node cluster (``LocalCluster``) without Docker.

The names below load on first use, so that importing a submodule (``local.paths`` for the cache directory)
does not load the launcher.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {"LocalCluster": "cluster", "LocalNode": "node", "NodeInfo": "node", "is_ready": "node",
          "local_connection": "node", "read_state": "node", "DEFAULT_LINE": "versions", "LINES": "versions",
          "SECURE_VERSION": "versions", "resolve": "versions"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
