"""Before planning: make sure what the blueprint's upstream needs is there (an Ollama model, pulled if asked).

Nothing here touches the cluster, so a failure leaves nothing to roll back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from opensearch_llm.errors import InvalidInputError
from opensearch_llm.lifecycle.events import RunOptions, StepTimer

if TYPE_CHECKING:
    from opensearch_llm.blueprint.model import Blueprint

if TYPE_CHECKING:  # the Ollama client (and requests) is imported only when a pull is configured
    from opensearch_llm.ollama import OllamaHost, PullSummary


@dataclass
class Prepared:
    """What :func:`prepare` did: the Ollama model and host, and the pull when one was needed."""

    model: str
    host: str
    pulled: bool
    pull: Optional["PullSummary"] = None

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return {"model": self.model, "host": self.host, "pulled": self.pulled,
                "pull": self.pull.to_dict() if self.pull else None}


def prepare(blueprint: "Blueprint", options: RunOptions = RunOptions(), *,
            host: Optional["OllamaHost"] = None) -> Optional[Prepared]:
    """With ``ollama.pull: true``, check ``/api/tags`` and pull the model when it is missing.

    Progress events go to ``options.on_pull``; the step is reported through ``options.on_step`` as
    ``ollama``.  Returns None when the blueprint asks for nothing.
    """
    spec = getattr(blueprint, "ollama", None)
    if spec is None or not spec.pull:
        return None
    if not spec.model:
        raise InvalidInputError(f"{blueprint.name}: ollama.pull is true but no model is known "
                                "(set ollama.model or connector.parameters.model)")
    from opensearch_llm.ollama import OllamaHost, human_size

    client = host or OllamaHost(spec.host)
    timer = StepTimer(options, "ollama")
    try:
        if client.has_model(spec.model):
            timer.done(f"{spec.model} is already on {client.shown_url}")
            return Prepared(spec.model, client.shown_url, pulled=False)
        summary = client.pull(spec.model, on_event=options.on_pull)
    except BaseException as exc:
        timer.done(str(exc), status="failed")
        raise
    timer.done(f"pulled {spec.model} onto {client.shown_url}: {summary.layers} layer(s), "
               f"{human_size(summary.bytes)}")
    return Prepared(spec.model, client.shown_url, pulled=True, pull=summary)
