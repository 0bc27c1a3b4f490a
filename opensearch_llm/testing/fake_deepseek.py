"""An offline DeepSeek: a real HTTP server speaking the OpenAI/DeepSeek chat-completions wire format.

Routes: ``POST /chat/completions`` and ``/v1/chat/completions`` (JSON or SSE with
``"stream": true``), ``GET /models`` and ``/v1/models``.  Every route needs
``Authorization: Bearer <api_key>``; a wrong key gets DeepSeek's 401 with the key masked to
its last four characters.

Reply rule (computed by :func:`fake_reply`, so tests can predict it):

* the last message is a ``tool`` message        -> ``"Tool said: <its content>"``
* the last user message contains ``pong``       -> ``"pong"`` (case-insensitive)
* otherwise                                      -> ``"Echo: <last user message>"``
* ``tools`` given and ``weather`` in the last user message -> ``finish_reason: "tool_calls"``,
  content null and one tool call ``call_0`` to ``tools[0]`` with arguments ``{"city": "Paris"}``
* models named ``*reasoner*`` also return ``reasoning_content = "Thinking about: <last user message>"``
* ``max_tokens`` cuts the reply to that many words, ``finish_reason: "length"``

Token counts are whitespace word counts.  Run standalone with
``python -m opensearch_llm.testing.fake_deepseek --port N --key K``.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from typing import Any, Dict, List, Optional, Sequence

from opensearch_llm.testing._openai_wire import (
    answer_chat_completion,
    fake_reply,
    fake_tool_call,
    openai_error,
    openai_status_error,
)
from opensearch_llm.testing._server import Exchange, FakeServer, serve_until_signal

__all__ = ["FakeDeepSeek", "fake_reply", "fake_tool_call", "mask_key", "main"]


def mask_key(key: str) -> str:
    """``****`` plus the key's last four characters (nothing of keys shorter than eight)."""
    return "****" + (key[-4:] if len(key) >= 8 else "")


class FakeDeepSeek(FakeServer):
    """A fake DeepSeek API on 127.0.0.1 (see the module docstring for routes and the reply rule).

    Use as a context manager; ``.url`` is the base URL to put in a connector
    (``<url>/chat/completions``).  Faults: :meth:`fail`, :meth:`slow`, :meth:`malformed`,
    :meth:`drop`, :meth:`reset_faults`, or the :attr:`faults` fields directly.
    """

    name = "fake-deepseek"

    def __init__(self, api_key: str = "sk-test", port: int = 0,
                 models: Sequence[str] = ("deepseek-chat", "deepseek-reasoner"), *, host: str = "127.0.0.1") -> None:
        super().__init__(host=host, port=port)
        self.api_key = api_key
        self.models = tuple(models)
        self._ids = itertools.count(1)
        for prefix in ("", "/v1"):
            self.route("POST", f"{prefix}/chat/completions", self._chat)
            self.route("GET", f"{prefix}/models", self._list_models)

    def error_payload(self, status: int, message: Optional[str] = None) -> Dict[str, Any]:
        """OpenAI-shaped error body for ``status``."""
        return openai_status_error(status, message)

    def malformed_body(self) -> bytes:
        """A chat.completion body cut off mid-way."""
        return b'{"id": "chatcmpl-0", "object": "chat.completion", "model": "deepseek-chat", "choices": [{"ind'

    def _authorized(self, ex: Exchange) -> bool:
        header = ex.request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip() == self.api_key:
            return True
        given = token.strip() if scheme.lower() == "bearer" else header
        msg = f"Authentication Fails, Your api key: {mask_key(given)} is invalid"
        ex.send_json(401, openai_error(msg, "authentication_error", "invalid_request_error"))
        return False

    def _chat(self, ex: Exchange) -> None:
        if self._authorized(ex):
            answer_chat_completion(ex, self.models, f"chatcmpl-{next(self._ids)}")

    def _list_models(self, ex: Exchange) -> None:
        if self._authorized(ex):
            data: List[Dict[str, Any]] = [{"id": m, "object": "model", "owned_by": "deepseek"} for m in self.models]
            ex.send_json(200, {"object": "list", "data": data})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: serve a FakeDeepSeek until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m opensearch_llm.testing.fake_deepseek",
                                     description="Offline stand-in for the DeepSeek chat API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    parser.add_argument("--key", default="sk-test", help="the API key to accept (default sk-test)")
    parser.add_argument("--model", action="append", dest="models", help="model id to serve (repeatable)")
    args = parser.parse_args(argv)
    models = tuple(args.models) if args.models else ("deepseek-chat", "deepseek-reasoner")
    return serve_until_signal(FakeDeepSeek(api_key=args.key, port=args.port, models=models, host=args.host))


if __name__ == "__main__":
    sys.exit(main())
