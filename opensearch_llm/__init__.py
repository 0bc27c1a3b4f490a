"""opensearch-llm: provision remote LLMs into OpenSearch ML Commons, prove they answer, remove them.

The Python API mirrors the CLI::

    from opensearch_llm import ConnectionSettings, connect, load_blueprint, up, predict, down, smoke

    client = connect(ConnectionSettings(url="http://127.0.0.1:9200"))
    bp = load_blueprint("connectors/deepseek-chat.yaml")
    result = up(client, bp)                     # UpResult: ids, model state, smoke outcome
    print(predict(client, bp, "hi").text)
    down(client, bp)                            # TeardownReport
    sweep(client, delete=True)                  # SweepReport: leftovers of smoke and failed runs

Names are imported lazily so that ``opensearch-llm --help`` does not load opensearch-py.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "load_blueprint": "opensearch_llm.blueprint",
    "Blueprint": "opensearch_llm.blueprint",
    "ConnectionSettings": "opensearch_llm.client",
    "connect": "opensearch_llm.client",
    "plan": "opensearch_llm.api",
    "up": "opensearch_llm.api",
    "predict": "opensearch_llm.api",
    "down": "opensearch_llm.api",
    "smoke": "opensearch_llm.api",
    "status": "opensearch_llm.api",
    "sweep": "opensearch_llm.api",
    "Filters": "opensearch_llm.sweep",
    "BlueprintIdentity": "opensearch_llm.blueprint.identity",
    "load_identity": "opensearch_llm.blueprint.identity",
    "UpResult": "opensearch_llm.api",
    "SmokeRun": "opensearch_llm.api",
    "RunOptions": "opensearch_llm.lifecycle.events",
    "LocalNode": "opensearch_llm.local",
    "Secret": "opensearch_llm.secrets",
    "errors": "opensearch_llm.errors",
}
__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'opensearch_llm' has no attribute {name!r}")
    module = importlib.import_module(_EXPORTS[name])
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
