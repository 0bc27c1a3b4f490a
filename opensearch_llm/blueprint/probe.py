"""Derive ``predict`` and a smoke probe from an ML Commons connector's predict action (used by ``import``).

The input placeholders are the ``${parameters.x}`` of the request body that the connector's own
parameters do not fill:

* ``messages``                        -> a chat probe (``predict.style: messages``);
* ``prompt``                          -> a prompt probe;
* ``texts``, or ``input``/``inputText`` of an embedding endpoint -> an embedding probe;
* exactly one other placeholder inside a JSON string (``"${parameters.inputs}"``) -> a prompt probe on it;
* none at all                         -> a probe without parameters.

Anything else gets no probe: ``smoke.parameters`` stays empty and the reason goes into the output as a
comment (``validate`` then names each placeholder that needs a value).  The answer path comes from
what the endpoint is known to return; where it is unknown, the probe only checks that
``dataAsMap`` is not empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from opensearch_llm.blueprint.checks import PARAM_REF

PONG = "Reply with the single word pong"
EMBED_TEXT = "hello world"
OUTPUT = "inference_results[0].output[0]."
DATA_AS_MAP = OUTPUT + "dataAsMap"
EMBED_INPUTS = ("texts", "input", "inputText")


@dataclass
class Probe:
    """What ``import`` writes into ``predict`` and ``smoke``; ``style`` None means no ``predict`` section."""

    style: Optional[str]
    input: Optional[str]
    parameters: Dict[str, Any]
    answer: Optional[str]
    notes: List[str] = field(default_factory=list)
    derived: bool = True

    @property
    def expect(self) -> List[Dict[str, Any]]:
        """The smoke expectations: the answer (or ``dataAsMap``) is not empty."""
        return [{"path": self.answer or DATA_AS_MAP, "not_empty": True}]


def _quoted(body: str, name: str) -> bool:
    return f'"${{parameters.{name}}}"' in body or f'\\"${{parameters.{name}}}\\"' in body


def _embedding(action: Dict[str, Any]) -> bool:
    functions = f"{action.get('pre_process_function', '')} {action.get('post_process_function', '')}"
    return "embedding" in functions or "embed" in str(action.get("url", "")).lower()


def answer_path(action: Dict[str, Any], params: Dict[str, Any]) -> Optional[str]:
    """Where the answer is in the ``_predict`` response, when the endpoint's format is known."""
    url = str(action.get("url", "")).lower()
    body = str(action.get("request_body", ""))
    if "response_filter" in params:
        return DATA_AS_MAP + ".response"  # ML Commons puts the filtered value there
    if "embedding" in str(action.get("post_process_function", "")):
        return OUTPUT + "data"
    known = [("/chat/completions", ".choices[0].message.content"), ("/completions", ".choices[0].text"),
             ("/api/chat", ".message.content"), ("/api/generate", ".response"),
             ("/converse", ".output.message.content[0].text"), ("/embeddings", ".data[0].embedding")]
    for marker, path in known:
        if marker in url:
            return DATA_AS_MAP + path
    if "anthropic_version" in body:
        return DATA_AS_MAP + (".content[0].text" if "messages" in body else ".completion")
    if "bedrock" in url and "embed" in url:
        return DATA_AS_MAP + ".embedding"
    return None


def _chat(action: Dict[str, Any]) -> Dict[str, Any]:
    content: Any = [{"text": PONG}] if "/converse" in str(action.get("url", "")) else PONG
    return {"messages": [{"role": "user", "content": content}]}


def derive(action: Dict[str, Any], params: Dict[str, Any]) -> Probe:
    """The probe for the predict ``action`` of a connector whose parameters are ``params``."""
    body = str(action.get("request_body") or "")
    free = [n for n in dict.fromkeys(PARAM_REF.findall(body)) if n not in params]
    answer = answer_path(action, params)
    if "messages" in free:
        return _finish(Probe("messages", "messages", _chat(action), answer), free, "messages")
    if "prompt" in free:
        return _finish(Probe("prompt", "prompt", {"prompt": PONG}, answer), free, "prompt")
    embed = [n for n in free if n == "texts" or n in EMBED_INPUTS and _embedding(action)]
    if embed:
        name = embed[0]
        sample: Any = EMBED_TEXT if _quoted(body, name) else [EMBED_TEXT]
        probe = Probe("prompt" if isinstance(sample, str) else "texts", name, {name: sample}, answer)
        return _finish(probe, free, name)
    if len(free) == 1 and _quoted(body, free[0]):
        probe = Probe("prompt", free[0], {free[0]: PONG}, answer,
                      [f"guessed: ${{parameters.{free[0]}}} is the only input, so the probe sends the prompt there"])
        return _finish(probe, free, free[0])
    if not free:
        return _finish(Probe(None, None, {}, answer, ["the request body needs no input: the probe sends none"]),
                       free, None)
    names = ", ".join(f"${{parameters.{n}}}" for n in free)
    return Probe(None, None, {}, answer, [f"no smoke probe could be derived: the request body uses {names}, which "
                                          "connector.parameters does not fill; add sample values for them under "
                                          "smoke.parameters (and predict.style/input for predict and chat)"],
                 derived=False)


def _finish(probe: Probe, free: List[str], used: Optional[str]) -> Probe:
    rest = [n for n in free if n != used]
    if rest:
        names = ", ".join(f"${{parameters.{n}}}" for n in rest)
        probe.notes.append(f"the request body also uses {names}: add values under connector.parameters or "
                           "smoke.parameters")
        probe.derived = False
    if probe.answer is None:
        probe.notes.append("the answer's place in the response is not known: the probe only checks that dataAsMap "
                           "is not empty; set predict.answer and smoke.expect to the real path")
    return probe


def is_placeholder(value: Any) -> bool:
    """True for a docs placeholder such as ``<PLEASE ADD YOUR API KEY HERE>`` or ``YOUR API KEY``."""
    return isinstance(value, str) and bool(re.search(r"<[^<>]+>|^\s*$|^YOUR[ _]", value))
