"""An offline DeepSeek: a real HTTP server speaking the OpenAI/DeepSeek chat-completions wire format.

It follows DeepSeek's V4 API as documented (api-docs.deepseek.com, November 2026):

* models: ``deepseek-flash`` (DeepSeek-V4.1-Flash) and ``deepseek-v4-pro`` by default, plus the legacy
  name ``deepseek-v4-flash``, which DeepSeek still answers (served by the flash model) but no longer
  lists.  Any other name, the retired ``deepseek-chat`` and ``deepseek-reasoner`` included, gets
  400 ``The supported API model names are deepseek-flash or deepseek-v4-pro, but you passed <name>.``
* ``thinking`` is on unless the request sends ``"thinking": {"type": "disabled"}``; then the message
  carries ``reasoning_content = "Thinking about: <last user message>"``.  ``reasoning_effort`` and the
  parameter ranges are checked as in :mod:`~opensearch_llm.testing._openai_params`.
* in thinking mode a tool-call turn must come back with its ``reasoning_content`` (400 otherwise).

Routes: ``POST /chat/completions`` and ``/v1/chat/completions`` (JSON or SSE with
``"stream": true``), ``GET /models`` and ``/v1/models``.  Every route needs
``Authorization: Bearer <api_key>``; a wrong key gets DeepSeek's 401 with the key masked to
its last four characters.

Reply rule (:func:`fake_reply`): ``"Tool said: <content>"`` after a tool message, ``"pong"`` when the
last user message contains ``pong``, else ``"Echo: <last user message>"``; ``tools`` plus ``weather``
gives a tool call ``call_0`` to ``tools[0]`` with ``{"city": "Paris"}``; ``max_tokens`` cuts the reply
to that many words (``finish_reason: "length"``).  Token counts are whitespace word counts.
ML Commons RAG prompts get ``"From the search results: <SEARCH RESULT 1>"`` (or ``"No search
results."``); a conversational agent's prompt holding chat history gets the pong/echo answer for its new
question (its last line); both add ``" Earlier you asked: <first earlier question>"`` when there is
history (rule in :mod:`~opensearch_llm.testing._openai_wire`).  What the fake received is in
:attr:`FakeDeepSeek.requests` (parsed bodies in ``.json``).

Concurrency cap (DeepSeek caps requests in flight per account and answers 429 beyond it, Rate Limit &
Isolation page, late 2026): ``fake.cap(limit, retry_after=None)`` answers a chat request that arrives while
``limit`` are in flight at once, without running the model, with 429 and ``{"error": {"message": "Rate limit
reached for requests: too many concurrent requests", "type": "rate_limit_error", "code":
"rate_limit_exceeded"}}`` (plus ``Retry-After: <retry_after>`` when given); ``slow(seconds)`` keeps the admitted
ones in flight longer; ``cap_off()`` lifts it.  The tally tells billed calls from refused ones:
``fake.billed`` (chat answers sent with HTTP 200), ``fake.refused`` (429s of the cap) and
``fake.max_in_flight``; ``clear_requests()`` zeroes them.

Run standalone with ``python -m opensearch_llm.testing.fake_deepseek --port N --key K`` (``--help``
lists the fault flags, ``--max-concurrency N`` and ``--retry-after S`` among them).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any, Dict, List, Mapping, Optional, Sequence

from opensearch_llm.testing._openai_answer import answer_chat_completion
from opensearch_llm.testing._openai_params import MAX_OUTPUT_TOKENS, supported_names_error
from opensearch_llm.testing._openai_wire import fake_reply, fake_tool_call, openai_error, openai_status_error
from opensearch_llm.testing._server import (
    Exchange, FakeServer, add_fault_arguments, apply_fault_arguments, serve_until_signal,
)

__all__ = ["DEFAULT_MODELS", "LEGACY_MODELS", "RETIRED_MODELS", "FakeDeepSeek", "fake_reply", "fake_tool_call",
           "mask_key", "main"]

#: What ``GET /models`` lists by default (DeepSeek's Models & Pricing and Lists Models pages).
DEFAULT_MODELS = ("deepseek-flash", "deepseek-v4-pro")
#: Older names DeepSeek still answers, and the listed model that serves them.
LEGACY_MODELS: Mapping[str, str] = {"deepseek-v4-flash": "deepseek-flash"}
#: Retired 2026-07-24 15:59 UTC; the fake refuses them like any unknown name.
RETIRED_MODELS = ("deepseek-chat", "deepseek-reasoner")
_MODEL_CARDS: Dict[str, Dict[str, Any]] = {
    "deepseek-flash": {"name": "DeepSeek-V4.1-Flash", "input_modalities": ["text", "image"]},
    "deepseek-v4-pro": {"name": "DeepSeek-V4-Pro", "input_modalities": ["text"]},
}


def mask_key(key: str) -> str:
    """``****`` plus the key's last four characters (nothing of keys shorter than eight)."""
    return "****" + (key[-4:] if len(key) >= 8 else "")


def model_card(model: str) -> Dict[str, Any]:
    """One ``GET /models`` entry in DeepSeek's documented shape."""
    card = _MODEL_CARDS.get(model, {"name": model, "input_modalities": ["text"]})
    return {"id": model, "object": "model", "owned_by": "deepseek", "name": card["name"],
            "context_window": 1048576, "max_output_tokens": MAX_OUTPUT_TOKENS,
            "input_modalities": card["input_modalities"], "output_modalities": ["text"],
            "effort": {"supported_levels": ["low", "high", "max"], "default_level": "high"}}


class FakeDeepSeek(FakeServer):
    """A fake DeepSeek API on 127.0.0.1 (see the module docstring for routes and behaviour).

    Use as a context manager; ``.url`` is the base URL to put in a connector
    (``<url>/chat/completions``).  ``models`` are served and listed; ``legacy`` (default
    :data:`LEGACY_MODELS`) maps extra accepted names to the listed model that answers them (an entry
    whose target is not in ``models`` is ignored).  Faults: :meth:`fail`, :meth:`slow`,
    :meth:`malformed`, :meth:`drop`, :meth:`reset_faults`, or the :attr:`faults` fields directly; the
    concurrency cap: :meth:`cap`, :meth:`cap_off`, :attr:`billed`, :attr:`refused`, :attr:`max_in_flight`.
    """

    name = "fake-deepseek"

    def __init__(self, api_key: str = "sk-test", port: int = 0, models: Sequence[str] = DEFAULT_MODELS, *,
                 host: str = "127.0.0.1", legacy: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.extra_keys: set = set()  # more keys to accept, as during a key rotation
        self.models = tuple(models)
        source = LEGACY_MODELS if legacy is None else legacy
        self.legacy = {old: new for old, new in source.items() if new in self.models and old not in self.models}
        self._ids = itertools.count(1)
        for prefix in ("", "/v1"):
            self.route("POST", f"{prefix}/chat/completions", self._chat)
            self.route("GET", f"{prefix}/models", self._list_models)

    @property
    def served(self) -> List[str]:
        """Every model name a chat request may use: the listed models, then the legacy names."""
        return list(self.models) + list(self.legacy)

    def error_payload(self, status: int, message: Optional[str] = None) -> Dict[str, Any]:
        """OpenAI-shaped error body for ``status``."""
        return openai_status_error(status, message)

    def malformed_body(self) -> bytes:
        """A chat.completion body cut off mid-way."""
        return b'{"id": "chatcmpl-0", "object": "chat.completion", "model": "deepseek-flash", "choices": [{"ind'

    def _authorized(self, ex: Exchange) -> bool:
        header = ex.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip() in {self.api_key, *self.extra_keys}:
            return True
        given = token.strip() if scheme.lower() == "bearer" else header
        msg = f"Authentication Fails, Your api key: {mask_key(given)} is invalid"
        ex.send_json(401, openai_error(msg, "authentication_error", "invalid_request_error"))
        return False

    def _chat(self, ex: Exchange) -> None:
        if self._authorized(ex):
            answer_chat_completion(ex, set(self.served), f"chatcmpl-{next(self._ids)}",
                                   supported_names_error(list(self.models)), deepseek=True)

    def _list_models(self, ex: Exchange) -> None:
        if self._authorized(ex):
            ex.send_json(200, {"object": "list", "data": [model_card(m) for m in self.models]})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: serve a FakeDeepSeek until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m opensearch_llm.testing.fake_deepseek",
                                     description="Offline stand-in for the DeepSeek chat API (V4 models).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    parser.add_argument("--key", default="sk-test", help="the API key to accept (default sk-test)")
    parser.add_argument("--model", action="append", dest="models",
                        help=f"model id to serve and list (repeatable; default {' '.join(DEFAULT_MODELS)})")
    add_fault_arguments(parser)
    args = parser.parse_args(argv)
    server = FakeDeepSeek(api_key=args.key, port=args.port, models=tuple(args.models or DEFAULT_MODELS),
                          host=args.host)
    apply_fault_arguments(parser, server, args)
    return serve_until_signal(server)


if __name__ == "__main__":
    sys.exit(main())
