"""Model management routes of :class:`~opensearch_llm.testing.fake_ollama.FakeOllama`: tags, pull, delete,
show and ps (the models loaded into memory by generate, chat and embed)."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Any, Dict, Mapping, Optional

from opensearch_llm.testing._exchange import Exchange
from opensearch_llm.testing._ollama_wire import (
    NOT_IN_REGISTRY, default_size, expiry, keep_alive_seconds, normalize, ps_entry, pull_lines, rfc3339_now,
    show_body, tags_entry,
)

JSON_TYPE = "application/json; charset=utf-8"


class ModelRoutes:
    """The model store with its routes; mixed into the fake Ollama server."""

    pullable: Dict[str, int]
    cut_pull_after: Optional[int]

    def _init_store(self, pullable: Mapping[str, int]) -> None:
        self.pullable = {normalize(k): int(v) for k, v in pullable.items()}
        self.cut_pull_after = None
        self._present: Dict[str, Dict[str, Any]] = {}
        self._loaded: Dict[str, datetime] = {}
        self._models_lock = threading.Lock()

    # model store -----------------------------------------------------------------------------
    @property
    def models(self) -> list:
        """Names of the models present (normalised, e.g. ``nomic-embed-text:latest``)."""
        with self._models_lock:
            return sorted(self._present)

    def has_model(self, name: str) -> bool:
        """True when ``name`` (tag optional) is present."""
        with self._models_lock:
            return normalize(name) in self._present

    def add_model(self, name: str, size: Optional[int] = None) -> str:
        """Make ``name`` present, as if pulled; returns the normalised name."""
        canon = normalize(name)
        size = size if size is not None else self.pullable.get(canon, default_size(canon))
        with self._models_lock:
            self._present[canon] = {"size": size, "modified_at": rfc3339_now()}
        return canon

    def remove_model(self, name: str) -> bool:
        """Forget ``name``; True when it was present."""
        with self._models_lock:
            self._loaded.pop(normalize(name), None)
            return self._present.pop(normalize(name), None) is not None

    @property
    def loaded(self) -> list:
        """Names of the models in memory now (what ``/api/ps`` lists)."""
        now = datetime.now(timezone.utc)
        with self._models_lock:
            return sorted(n for n, until in self._loaded.items() if until > now and n in self._present)

    def load(self, name: str, keep_alive: Any = None) -> None:
        """Mark ``name`` loaded for ``keep_alive`` (Ollama's semantics: 0 unloads, negative keeps it)."""
        seconds = keep_alive_seconds(keep_alive)
        with self._models_lock:
            if seconds == 0:
                self._loaded.pop(normalize(name), None)
            else:
                self._loaded[normalize(name)] = expiry(seconds)

    # helpers ---------------------------------------------------------------------------------------
    def _body(self, ex: Exchange) -> Optional[Dict[str, Any]]:
        if isinstance(ex.request.json, dict):
            return ex.request.json
        msg = "unexpected EOF" if not ex.request.body.strip() else "invalid request body: expected a JSON object"
        ex.send_json(400, {"error": msg}, content_type=JSON_TYPE)
        return None

    def _model_name(self, ex: Exchange) -> Optional[str]:
        """The ``model`` (or ``name``) of the request body; None once a 400 has been answered."""
        body = self._body(ex)
        if body is None:
            return None
        name = body.get("model") or body.get("name")
        if not isinstance(name, str) or not name.strip():
            ex.send_json(400, {"error": "model is required"}, content_type=JSON_TYPE)
            return None
        return name

    @staticmethod
    def _line(ex: Exchange, obj: Dict[str, Any]) -> None:
        ex.write(json.dumps(obj).encode("utf-8") + b"\n")

    # routes -------------------------------------------------------------------------------------------
    def _tags(self, ex: Exchange) -> None:
        with self._models_lock:
            entries = [tags_entry(n, i["size"], i["modified_at"]) for n, i in sorted(self._present.items())]
        ex.send_json(200, {"models": entries}, content_type=JSON_TYPE)

    def _show(self, ex: Exchange) -> None:
        name = self._model_name(ex)
        if name is None:
            return
        with self._models_lock:
            info = self._present.get(normalize(name))
        if info is None:
            return ex.send_json(404, {"error": f"model '{name}' not found"}, content_type=JSON_TYPE)
        ex.send_json(200, show_body(normalize(name), info["size"], info["modified_at"]), content_type=JSON_TYPE)

    def _ps(self, ex: Exchange) -> None:
        names = self.loaded
        with self._models_lock:
            entries = [ps_entry(n, self._present[n]["size"], self._loaded[n]) for n in names if n in self._present]
        ex.send_json(200, {"models": entries}, content_type=JSON_TYPE)

    def _pull(self, ex: Exchange) -> None:
        name = self._model_name(ex)
        if name is None:
            return
        body = self._body(ex) or {}
        canon, stream, cut = normalize(name), body.get("stream", True) is not False, self.cut_pull_after
        with self._models_lock:
            size = self.pullable.get(canon) or (self._present.get(canon) or {}).get("size")
        if size is None:
            if not stream:
                return ex.send_json(500, {"error": NOT_IN_REGISTRY}, content_type=JSON_TYPE)
            ex.start_stream(200, "application/x-ndjson")
            self._line(ex, {"status": "pulling manifest"})
            self._line(ex, {"error": NOT_IN_REGISTRY})
            return ex.end_stream()
        if not stream:
            if cut is not None:
                return ex.abort()
            self.add_model(canon, size)
            return ex.send_json(200, {"status": "success"}, content_type=JSON_TYPE)
        ex.start_stream(200, "application/x-ndjson")
        for i, line in enumerate(pull_lines(canon, size)):
            if cut is not None and i >= cut:
                return ex.abort()
            if line["status"] == "success":
                self.add_model(canon, size)
            self._line(ex, line)
        ex.end_stream()

    def _delete(self, ex: Exchange) -> None:
        body = self._body(ex)
        if body is None:
            return
        name = body.get("model") or body.get("name") or ""
        if not self.remove_model(str(name)):
            return ex.send_json(404, {"error": f"model '{name}' not found"}, content_type=JSON_TYPE)
        ex.send_bytes(200, b"", JSON_TYPE)
