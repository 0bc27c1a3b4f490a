"""An offline Ollama: a real HTTP server speaking Ollama's native API (and its OpenAI-compatible chat).

Routes: ``GET /`` (``Ollama is running``), ``GET /api/version``, ``GET /api/tags``,
``POST /api/show``, ``GET /api/ps``, ``POST /api/pull`` (NDJSON progress; ``"stream"`` defaults to
true), ``DELETE /api/delete``, ``POST /api/generate``, ``POST /api/chat``, ``POST /api/embed``,
``POST /api/embeddings`` (legacy), ``POST /v1/chat/completions`` and ``GET /v1/models`` (no auth,
like Ollama).

Replies follow the same rule as the fake DeepSeek (:func:`fake_reply`): ``"Tool said: ..."`` after a
tool message, ``"pong"`` when the last user message / prompt contains ``pong``, otherwise
``"Echo: <last user message or prompt>"``; ``tools`` plus ``weather`` gives a tool call to
``tools[0]`` with ``{"city": "Paris"}``; ``options.num_predict`` cuts the reply to that many words
(``done_reason: "length"``).  A prompt holding a conversational agent's chat history gets that
answer for its new question (its last line), plus ``" Earlier you asked: <first earlier question>"``;
ML Commons RAG prompts get ``"From the search results: <SEARCH RESULT 1>"``.  ``think: true`` (or a
level) on a model that can think (qwen3, deepseek-r1, gpt-oss, ...; see ``capabilities`` in
``/api/show``) adds ``thinking: "Thinking about: <last user message>"``; on any other model it is a
400 ``"<model>" does not support thinking``.  Generate, chat and embed load the model for
``keep_alive`` (default 5m; ``0`` unloads), which ``/api/ps`` lists.  Embeddings are unit vectors of
``embed_dim`` floats seeded by sha256 of the text.  Errors use Ollama's ``{"error": "..."}`` shape.
What the fake received is in :attr:`FakeOllama.requests` (parsed bodies in ``.json``).

Run standalone with ``python -m opensearch_llm.testing.fake_ollama --port N [--model NAME ...]``
(``--help`` lists the fault flags).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from opensearch_llm.testing._ollama_manage import JSON_TYPE as _JSON
from opensearch_llm.testing._ollama_manage import ModelRoutes
from opensearch_llm.testing._ollama_wire import (
    DEFAULT_PULLABLE, OLLAMA_VERSION, can_think, chat_message, embed_vector, is_embedding, keep_alive_seconds,
    model_not_found, num_predict, rfc3339_now, stats, think_requested, thinking_error,
)
from opensearch_llm.testing._openai_answer import answer_chat_completion
from opensearch_llm.testing._openai_wire import (
    ROLES, WireError, count_words, fake_reasoning, fake_reply, fake_tool_call, message_text, split_pieces,
    truncate_words,
)
from opensearch_llm.testing._server import (
    Exchange, FakeServer, add_fault_arguments, apply_fault_arguments, serve_until_signal,
)

__all__ = ["DEFAULT_PULLABLE", "FakeOllama", "fake_reply", "main"]

_ERRORS = {404: "not found", 429: "too many requests",
           500: "an error was encountered while running the model: unexpected EOF",
           503: "server busy, please try again.  maximum pending requests exceeded"}


class FakeOllama(ModelRoutes, FakeServer):
    """A fake Ollama on 127.0.0.1 (see the module docstring for routes and the reply rule).

    ``models`` are present from the start; ``pullable`` (name -> size in bytes, default
    :data:`DEFAULT_PULLABLE`) are what ``/api/pull`` can fetch.  Besides the shared fault
    switches, set :attr:`cut_pull_after` to N to close a pull's connection after N NDJSON lines.
    """

    name = "fake-ollama"

    def __init__(self, port: int = 0, models: Sequence[str] = ("llama3.2:1b", "nomic-embed-text"),
                 pullable: Optional[Mapping[str, int]] = None, embed_dim: int = 8, *, host: str = "127.0.0.1") -> None:
        super().__init__(host=host, port=port)
        self.embed_dim = embed_dim
        self._init_store(DEFAULT_PULLABLE if pullable is None else pullable)
        self._ids = itertools.count(1)
        for m in models:
            self.add_model(m)
        routes: Dict[str, Callable[[Exchange], None]] = {
            "GET /": self._root, "GET /api/version": self._version, "GET /api/tags": self._tags,
            "POST /api/show": self._show, "GET /api/ps": self._ps,
            "POST /api/pull": self._pull, "DELETE /api/delete": self._delete, "POST /api/generate": self._generate,
            "POST /api/chat": self._chat, "POST /api/embed": self._embed, "POST /api/embeddings": self._embeddings,
            "POST /v1/chat/completions": self._openai_chat, "GET /v1/models": self._openai_models,
        }
        for key, fn in routes.items():
            method, path = key.split(" ")
            self.route(method, path, fn)

    # hooks ----------------------------------------------------------------------------------------
    def reset_faults(self) -> None:
        """Clear the shared fault switches and :attr:`cut_pull_after`."""
        super().reset_faults()
        self.cut_pull_after = None

    def error_payload(self, status: int, message: Optional[str] = None) -> Dict[str, Any]:
        """Ollama's ``{"error": "..."}``."""
        return {"error": message or _ERRORS.get(status, f"HTTP {status}")}

    def malformed_body(self) -> bytes:
        """A generate answer cut off mid-way."""
        return b'{"model": "llama3.2:1b", "created_at": "2025-01-01T00:00:00Z", "response": "Ech'

    # helpers ---------------------------------------------------------------------------------------
    def _model(self, ex: Exchange, body: Dict[str, Any], capability: Optional[str]) -> Optional[str]:
        """The requested model name (now loaded), or None after answering 400/404."""
        name = body.get("model")
        if not isinstance(name, str) or not name:
            ex.send_json(400, {"error": "model is required"}, content_type=_JSON)
        elif not self.has_model(name):
            ex.send_json(404, {"error": model_not_found(name)}, content_type=_JSON)
        elif capability and is_embedding(name):
            ex.send_json(400, {"error": f'"{name}" does not support {capability}'}, content_type=_JSON)
        elif capability and think_requested(body) and not can_think(name):
            ex.send_json(400, {"error": thinking_error(name)}, content_type=_JSON)
        else:
            try:
                keep_alive_seconds(body.get("keep_alive"))
            except ValueError:
                ex.send_json(400, {"error": f'time: invalid duration "{body.get("keep_alive")}"'},
                             content_type=_JSON)
                return None
            self.load(name, body.get("keep_alive"))
            return name
        return None

    def _answer(self, ex: Exchange, body: Dict[str, Any], pieces: List[Dict[str, Any]],
                whole: Dict[str, Any], final: Dict[str, Any]) -> None:
        if body.get("stream", True) is False:
            return ex.send_json(200, whole, content_type=_JSON)
        ex.start_stream(200, "application/x-ndjson")
        for obj in pieces:
            self._line(ex, {**obj, "done": False})
        ex.settle()  # a client may send its next call as soon as it reads the final line: books first
        self._line(ex, final)
        ex.end_stream()

    # routes -------------------------------------------------------------------------------------------
    def _root(self, ex: Exchange) -> None:
        ex.send_bytes(200, b"Ollama is running", "text/plain; charset=utf-8")

    def _version(self, ex: Exchange) -> None:
        ex.send_json(200, {"version": OLLAMA_VERSION}, content_type=_JSON)

    def _generate(self, ex: Exchange) -> None:
        body = self._body(ex)
        model = self._model(ex, body, "generate") if body is not None else None
        if model is None:
            return
        prompt, system = body.get("prompt", ""), body.get("system", "")
        if not isinstance(prompt, str) or not isinstance(system, str):
            return ex.send_json(400, {"error": "prompt and system must be strings"}, content_type=_JSON)
        head = {"model": model, "created_at": rfc3339_now()}
        if not prompt:
            reason = "unload" if keep_alive_seconds(body.get("keep_alive")) == 0 else "load"
            return ex.send_json(200, {**head, "response": "", "done": True, "done_reason": reason}, content_type=_JSON)
        text, cut = truncate_words(fake_reply([{"role": "user", "content": prompt}]), num_predict(body))
        if body.get("format"):
            text = json.dumps({"reply": text})
        thinking = fake_reasoning([{"role": "user", "content": prompt}]) if think_requested(body) else ""
        done = {"done": True, "done_reason": "length" if cut else "stop", "context": [1, 2, 3],
                **stats(count_words(prompt) + count_words(system), count_words(text) + count_words(thinking))}
        pieces = [{**head, "response": "", "thinking": p} for p in split_pieces(thinking)]
        pieces += [{**head, "response": p} for p in split_pieces(text)]
        whole = {**head, "response": text, **({"thinking": thinking} if thinking else {}), **done}
        self._answer(ex, body, pieces, whole, {**head, "response": "", **done})

    def _chat(self, ex: Exchange) -> None:
        body = self._body(ex)
        model = self._model(ex, body, "chat") if body is not None else None
        if model is None:
            return
        messages, tools = body.get("messages") or [], body.get("tools") or None
        bad = next((m for m in messages if not isinstance(m, dict) or m.get("role") not in ROLES), None) \
            if isinstance(messages, list) else messages
        if bad is not None:
            role = bad.get("role") if isinstance(bad, dict) else None
            return ex.send_json(400, {"error": f'invalid message: role "{role}"'}, content_type=_JSON)
        if tools is not None and not (isinstance(tools, list) and all(
                isinstance(t, dict) and isinstance((t.get("function") or {}).get("name"), str) for t in tools)):
            return ex.send_json(400, {"error": "invalid tools: each needs function.name"}, content_type=_JSON)
        head = {"model": model, "created_at": rfc3339_now()}
        if not messages:
            msg = {"role": "assistant", "content": ""}
            return ex.send_json(200, {**head, "message": msg, "done": True, "done_reason": "load"}, content_type=_JSON)
        call = fake_tool_call(messages, tools)
        text, cut = ("", False) if call else truncate_words(fake_reply(messages), num_predict(body))
        thinking = fake_reasoning(messages) if think_requested(body) else ""
        prompt_words = sum(count_words(message_text(m.get("content"))) for m in messages)
        done = {"done": True, "done_reason": "length" if cut else "stop",
                **stats(prompt_words, count_words(text) + count_words(thinking))}
        pieces = [{**head, "message": {**chat_message(""), "thinking": p}} for p in split_pieces(thinking)]
        pieces += [{**head, "message": chat_message(p)} for p in split_pieces(text)] or (
            [{**head, "message": chat_message("", call)}] if call else [])
        whole_message = {**chat_message(text, call), **({"thinking": thinking} if thinking else {})}
        self._answer(ex, body, pieces, {**head, "message": whole_message, **done},
                     {**head, "message": chat_message(""), **done})

    def _embed_target(self, ex: Exchange) -> Optional[tuple]:
        """(model, body) for an embedding request, or None after answering an error."""
        body = self._body(ex)
        model = self._model(ex, body, None) if body is not None else None
        return None if model is None else (model, body)

    def _embed(self, ex: Exchange) -> None:
        found = self._embed_target(ex)
        if found is None:
            return
        model, body = found
        inp = body.get("input")
        texts = [] if inp is None else [inp] if isinstance(inp, str) else inp
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            return ex.send_json(400, {"error": "invalid input type"}, content_type=_JSON)
        words = sum(count_words(t) for t in texts)
        ex.send_json(200, {"model": model, "embeddings": [embed_vector(t, self.embed_dim) for t in texts],
                           "total_duration": 2_000_000 + 100_000 * words, "load_duration": 1_000_000,
                           "prompt_eval_count": words}, content_type=_JSON)

    def _embeddings(self, ex: Exchange) -> None:
        found = self._embed_target(ex)
        if found is None:
            return
        prompt = found[1].get("prompt")
        if prompt is not None and not isinstance(prompt, str):
            return ex.send_json(400, {"error": "prompt must be a string"}, content_type=_JSON)
        ex.send_json(200, {"embedding": embed_vector(prompt, self.embed_dim) if prompt else []}, content_type=_JSON)

    def _openai_chat(self, ex: Exchange) -> None:
        names = {n for m in self.models for n in (m, m[: -len(":latest")] if m.endswith(":latest") else m)}
        answer_chat_completion(ex, names, f"chatcmpl-{next(self._ids)}",
                               lambda m: WireError(model_not_found(m), 404, "api_error", None))

    def _openai_models(self, ex: Exchange) -> None:
        data = [{"id": m, "object": "model", "created": 1700000000, "owned_by": "library"} for m in self.models]
        ex.send_json(200, {"object": "list", "data": data})


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: serve a FakeOllama until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m opensearch_llm.testing.fake_ollama",
                                     description="Offline stand-in for the Ollama API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free port)")
    parser.add_argument("--model", action="append", dest="models", help="model present at start (repeatable)")
    parser.add_argument("--embed-dim", type=int, default=8, help="embedding size (default 8)")
    add_fault_arguments(parser)
    args = parser.parse_args(argv)
    models = tuple(args.models) if args.models else ("llama3.2:1b", "nomic-embed-text")
    server = FakeOllama(port=args.port, models=models, embed_dim=args.embed_dim, host=args.host)
    apply_fault_arguments(parser, server, args)
    return serve_until_signal(server)


if __name__ == "__main__":
    sys.exit(main())
