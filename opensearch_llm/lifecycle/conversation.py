"""One prediction through a provisioned model: build the parameters from a conversation, read the answer."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

from opensearch_llm.blueprint.paths import find_path
from opensearch_llm.errors import OpenSearchLLMError, UpstreamError, excerpt
from opensearch_llm.lifecycle.facts import owned
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.resources import model as model_api
from opensearch_llm.resources import predict as predict_api


@dataclass
class PredictResult:
    """The answer text, the reasoning (reasoner models), the raw response and the latency."""

    text: str
    reasoning: Optional[str]
    seconds: float
    model_id: str
    response: dict

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def build_parameters(blueprint: Any, message: str, system: Optional[str] = None,
                     history: Sequence[dict] = (), params: Optional[dict] = None) -> dict:
    """The ``_predict`` parameters for the blueprint's input style (messages, prompt or texts)."""
    style, key = blueprint.predict.style, blueprint.predict.input
    if style == "messages":
        messages = ([{"role": "system", "content": system}] if system else []) + list(history)
        value: Any = [*messages, {"role": "user", "content": message}]
    elif style == "prompt":
        value = f"{system}\n\n{message}" if system else message
    else:
        value = [message]
    return {**(params or {}), key: value}


def provisioned_model_id(client: Any, blueprint: Any) -> str:
    """The id of the blueprint's ``up`` model; a clear error when it is not provisioned."""
    name = names_for(blueprint).model
    found = [m for m in owned("model", model_api.list_marked(client))
             if m.name == name and m.marker.blueprint == blueprint.name]
    if not found:
        raise OpenSearchLLMError(f"{blueprint.name} is not provisioned in this cluster",
                                 hint=f"run: opensearch-llm up {blueprint.source}")
    return max(found, key=lambda m: m.marker.created).id


def predict(client: Any, blueprint: Any, message: str, *, system: Optional[str] = None,
            history: Sequence[dict] = (), params: Optional[dict] = None,
            model_id: Optional[str] = None) -> PredictResult:
    """Send one message (with optional system prompt and history) and return the answer."""
    model_id = model_id or provisioned_model_id(client, blueprint)
    parameters = build_parameters(blueprint, message, system, history, params)
    prediction = predict_api.predict(client, model_id, parameters, blueprint.smoke.timeout)
    answer = find_path(prediction.response, blueprint.predict.answer)
    if answer is None:
        raise UpstreamError(
            f"the LLM answered in an unexpected shape: nothing at {blueprint.predict.answer}",
            provider_message=excerpt(str(prediction.response), 300))
    reasoning = find_path(prediction.response, blueprint.predict.reasoning) if blueprint.predict.reasoning else None
    text = answer if isinstance(answer, str) else str(answer)
    return PredictResult(text=text, reasoning=reasoning, seconds=prediction.seconds, model_id=model_id,
                         response=prediction.response)
