"""One prediction through a provisioned model: build the parameters from a conversation, read the answer.

The conversation (system prompt, history, the new message) and the generation parameters are
shaped by :mod:`opensearch_llm.lifecycle.messages`; ``stream=True`` goes through
:mod:`opensearch_llm.lifecycle.streaming`, which falls back to the full answer where the cluster
cannot stream.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, List, Optional, Sequence, TYPE_CHECKING, Tuple

from opensearch_llm.blueprint.paths import find_path, get_path
from opensearch_llm.errors import InvalidInputError, NotProvisionedError, OpenSearchLLMError, UpstreamError, excerpt
from opensearch_llm.lifecycle.facts import Owned, fresh, owned
from opensearch_llm.lifecycle.placement import serving_text
from opensearch_llm.lifecycle.messages import dialect, route_parameters, to_ollama_messages, to_openai_messages
from opensearch_llm.lifecycle.naming import names_for
from opensearch_llm.resources import model as model_api
from opensearch_llm.resources import predict as predict_api
from opensearch_llm.secrets import mask_text

if TYPE_CHECKING:
    from opensearchpy import OpenSearch
    from opensearch_llm.blueprint.model import Blueprint

RESPONSE_MAP = "inference_results[0].output[0].dataAsMap"


@dataclass
class PredictResult:
    """The answer text, the reasoning (reasoner models), tool calls, the raw response and the latency.

    ``warnings`` name parameters that reach nothing; ``streamed`` tells whether the text arrived in
    chunks, and ``stream_note`` why it did not when streaming was asked for.
    """

    text: str
    reasoning: Optional[str]
    seconds: float
    model_id: str
    response: dict
    tool_calls: Optional[list] = None
    warnings: List[str] = field(default_factory=list)
    streamed: bool = False
    stream_note: Optional[str] = None
    serving: str = ""  # how many nodes serve the model ("2/3 nodes"), as the model listing said
    retries: int = 0  # refused attempts (429, throttled) before the answer, none of them billed
    blueprint: str = ""  # the blueprint whose model answered (a fallback's, when the first ones failed)
    attempts: List[dict] = field(default_factory=list)  # the models that failed before, and why (lifecycle.fallback)

    def to_dict(self) -> dict:
        """JSON-ready view."""
        return asdict(self)


def conversation(blueprint: "Blueprint", message: str, system: Optional[str] = None,
                 history: Sequence[dict] = ()) -> Any:
    """The input value for the blueprint's style: chat messages, a prompt string or a list of texts."""
    style = blueprint.predict.style
    if style == "messages":
        messages = ([{"role": "system", "content": system}] if system else []) + to_openai_messages(history)
        messages.append({"role": "user", "content": message})
        return to_ollama_messages(messages) if dialect(blueprint) == "ollama" else messages
    if history:
        raise InvalidInputError(f"a history needs a chat blueprint; {blueprint.name} sends a {style}",
                                hint="use a blueprint with predict.style: messages")
    if style == "prompt":
        return f"{system}\n\n{message}" if system else message
    return [message]


def build_parameters(blueprint: "Blueprint", message: str, system: Optional[str] = None,
                     history: Sequence[dict] = (), params: Optional[dict] = None) -> dict:
    """The ``_predict`` parameters: the conversation under ``predict.input`` plus the routed ``params``."""
    routed, _unused = route_parameters(blueprint, params)
    return {**routed, blueprint.predict.input: conversation(blueprint, message, system, history)}


def unused_warnings(blueprint: "Blueprint", params: Optional[dict]) -> List[str]:
    """A warning for every parameter the blueprint's request body does not use."""
    _routed, unused = route_parameters(blueprint, params)
    return [f"parameter {name!r} is not used by the request_body of {blueprint.source}, so it does not reach "
            "the provider" for name in unused if name != blueprint.predict.input]


def provisioned_model_id(client: "OpenSearch", blueprint: "Blueprint") -> str:
    """The id of the blueprint's ``up`` model; a clear error when it is not provisioned."""
    return provisioned_model(client, blueprint).id


def provisioned_model(client: "OpenSearch", blueprint: "Blueprint") -> Owned:
    """The blueprint's ``up`` model as the model listing shows it; a clear error when it is not provisioned."""
    name = names_for(blueprint).model
    found = [m for m in owned("model", model_api.list_marked(client))
             if m.name == name and m.marker.blueprint == blueprint.name]
    if not found:
        raise _not_visible(client, blueprint)
    return max(found, key=lambda m: m.marker.created)


def _not_visible(client: "OpenSearch", blueprint: "Blueprint") -> OpenSearchLLMError:
    """"Not provisioned", unless model access control may be hiding another user's model from the caller."""
    from opensearch_llm.resources import settings
    from opensearch_llm.resources.security import whoami

    caller = whoami(client)
    if caller and settings.read(client).access_control:
        return NotProvisionedError(
            f"no model of {blueprint.name} is visible to user {caller.user}: model access control is on, so it is "
            "either not provisioned or in a model group this user may not access",
            hint=f"ask its owner for access (model_group.access_mode / backend_roles), or run: "
                 f"opensearch-llm up {blueprint.source}")
    return NotProvisionedError(f"{blueprint.name} is not provisioned in this cluster",
                              hint=f"run: opensearch-llm up {blueprint.source}")


def _shape_error(path: str, detail: str, response: dict) -> UpstreamError:
    shown = find_path(response, RESPONSE_MAP)
    text = excerpt(mask_text(json.dumps(shown if shown is not None else response, default=str)), 300)
    return UpstreamError(f"the LLM answered in an unexpected shape: expected the answer at {path}, but {detail}; "
                         f"got {text}", provider_message=text, hint="check predict.answer in the blueprint")


def read_answer(blueprint: "Blueprint", response: dict) -> Tuple[str, Optional[list]]:
    """The answer text (JSON for non-text answers) and any tool calls; :class:`UpstreamError` on a wrong shape."""
    path = blueprint.predict.answer
    try:
        answer = get_path(response, path)
    except KeyError as exc:
        raise _shape_error(path, str(exc.args[0] if exc.args else exc), response) from None
    calls = None
    if answer is None and path.endswith(".content"):
        calls = find_path(response, path[: -len("content")] + "tool_calls") or None
    if answer is None and not calls:
        raise _shape_error(path, "it is null", response)
    text = "" if answer is None else answer if isinstance(answer, str) else json.dumps(answer)
    return text, calls


def predict(client: "OpenSearch", blueprint: "Blueprint", message: str, *, system: Optional[str] = None,
            history: Sequence[dict] = (), params: Optional[dict] = None, model_id: Optional[str] = None,
            stream: bool = False, on_chunk: Optional[Callable[[str], None]] = None) -> PredictResult:
    """Send one message (with optional system prompt, history and parameters) and return the answer.

    With ``stream``, answer chunks go to ``on_chunk`` as they arrive; where the cluster cannot stream,
    the full answer is fetched instead and ``stream_note`` says why.
    """
    serving = ""
    if not model_id:
        # a model deployed a moment ago may still read DEPLOYING in a search: read it again by id
        found = fresh(client, provisioned_model(client, blueprint))
        if found is None:
            raise _not_visible(client, blueprint)
        model_id, serving = found.id, serving_text(found.doc, {}).split(":")[0]
    parameters = build_parameters(blueprint, message, system, history, params)
    warnings = unused_warnings(blueprint, params)
    note = None
    if stream:
        from opensearch_llm.lifecycle.streaming import stream_answer

        streamed = stream_answer(client, blueprint, model_id, parameters, on_chunk or (lambda _text: None))
        if streamed.note is None:
            return PredictResult(text=streamed.text, reasoning=None, seconds=streamed.seconds, model_id=model_id,
                                 response=streamed.response, warnings=warnings, streamed=True, serving=serving,
                                 blueprint=blueprint.name)
        note = streamed.note
    prediction = predict_api.predict(client, model_id, parameters, blueprint.predict.timeout)
    text, calls = read_answer(blueprint, prediction.response)
    reasoning = find_path(prediction.response, blueprint.predict.reasoning) if blueprint.predict.reasoning else None
    return PredictResult(text=text, reasoning=reasoning, seconds=prediction.seconds, model_id=model_id,
                         response=prediction.response, tool_calls=calls, warnings=warnings, stream_note=note,
                         serving=serving, retries=prediction.retries, blueprint=blueprint.name)
