"""Ollama wire-format helpers for :mod:`opensearch_llm.testing.fake_ollama`: names, tags, pulls, vectors,
``/api/show`` and ``/api/ps`` entries, capabilities and thinking."""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, List, Optional, Union

OLLAMA_VERSION = "0.12.6"
NOT_IN_REGISTRY = "pull model manifest: file does not exist"

#: Models ``/api/pull`` can fetch by default (name -> size in bytes).
DEFAULT_PULLABLE: Dict[str, int] = {
    "smollm2:135m": 270_898_672,
    "qwen3:4b": 2_497_293_931,
    "llama3.2:1b": 1_321_098_329,
    "nomic-embed-text:latest": 274_302_450,
}

#: Model families that can think (``think`` in /api/chat and /api/generate); others answer 400.
THINKING_FAMILIES = ("qwen3", "deepseek-r1", "deepseek-v3.1", "gpt-oss", "magistral")
#: How long a model stays loaded after a request when ``keep_alive`` is not given (Ollama: 5m).
DEFAULT_KEEP_ALIVE = 300.0
_DURATION = re.compile(r"^(-?\d+(?:\.\d+)?)(ms|s|m|h)?$")

_FAMILIES = (("nomic", "nomic-bert"), ("qwen3", "qwen3"), ("qwen", "qwen2"), ("gemma", "gemma3"),
             ("phi", "phi3"), ("mistral", "llama"), ("smollm", "llama"), ("llama", "llama"))


def normalize(name: str) -> str:
    """``"llama3.2"`` -> ``"llama3.2:latest"``; names with a tag are kept as they are."""
    name = name.strip()
    return name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"


def model_not_found(name: str) -> str:
    """Ollama's message for a model that is not present locally."""
    return f'model "{name}" not found, try pulling it first'


def digest_for(name: str, salt: str = "") -> str:
    """A stable sha256 hex digest for a model (or one of its layers)."""
    return hashlib.sha256(f"{salt}{name}".encode("utf-8")).hexdigest()


def default_size(name: str) -> int:
    """A plausible, deterministic size for a model nobody gave a size for."""
    return 100_000_000 + int(digest_for(name)[:6], 16)


def rfc3339_now() -> str:
    """Current UTC time like Ollama prints it, e.g. ``2025-01-02T03:04:05.123456Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def details_for(name: str) -> Dict[str, Any]:
    """The ``details`` object of a tags entry, guessed from the model name."""
    base, _, tag = name.partition(":")
    family = next((fam for prefix, fam in _FAMILIES if base.startswith(prefix)), "llama")
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([bm])", tag.lower())
    if m:
        params = f"{m.group(1)}{m.group(2).upper()}"
    else:
        params = "137M" if family == "nomic-bert" else "1.2B"
    quant = "F16" if family == "nomic-bert" else "Q8_0"
    return {"parent_model": "", "format": "gguf", "family": family, "families": [family],
            "parameter_size": params, "quantization_level": quant}


def tags_entry(name: str, size: int, modified_at: str) -> Dict[str, Any]:
    """One ``/api/tags`` model entry."""
    return {"name": name, "model": name, "modified_at": modified_at, "size": size,
            "digest": digest_for(name), "details": details_for(name)}


def pull_lines(name: str, size: int) -> List[Dict[str, Any]]:
    """The NDJSON objects of a successful streamed pull: manifest, two layers, verify, write, success."""
    small = 485
    layers = [(digest_for(name, "layer0:"), max(size - small, 4)), (digest_for(name, "layer1:"), small)]
    lines: List[Dict[str, Any]] = [{"status": "pulling manifest"}]
    for hexdigest, total in layers:
        for step in range(5):
            lines.append({"status": f"pulling {hexdigest[:12]}", "digest": f"sha256:{hexdigest}",
                          "total": total, "completed": total * step // 4})
    lines += [{"status": "verifying sha256 digest"}, {"status": "writing manifest"}, {"status": "success"}]
    return lines


def embed_vector(text: str, dim: int) -> List[float]:
    """A unit-length vector of ``dim`` floats derived from sha256 of ``text`` (deterministic)."""
    raw: List[float] = []
    block = 0
    while len(raw) < dim:
        digest = hashlib.sha256(f"{block}|{text}".encode("utf-8")).digest()
        raw.extend(v / 2**31 - 1.0 for v in struct.unpack(">8I", digest))
        block += 1
    raw = raw[:dim]
    norm = math.sqrt(sum(v * v for v in raw)) or 1.0
    return [v / norm for v in raw]


def stats(prompt_words: int, eval_words: int) -> Dict[str, int]:
    """The timing/count fields Ollama adds to a finished answer (deterministic numbers)."""
    return {"total_duration": 5_000_000 + 1_000_000 * eval_words, "load_duration": 1_000_000,
            "prompt_eval_count": prompt_words, "prompt_eval_duration": 200_000 * max(prompt_words, 1),
            "eval_count": eval_words, "eval_duration": 800_000 * max(eval_words, 1)}


def num_predict(body: Dict[str, Any]) -> Optional[int]:
    """``options.num_predict`` when it is a positive int, else None."""
    opts = body.get("options")
    n = opts.get("num_predict") if isinstance(opts, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else None


def chat_message(content: str, call: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """An assistant chat message; an OpenAI-shaped ``call`` becomes Ollama ``tool_calls`` (object arguments)."""
    out: Dict[str, Any] = {"role": "assistant", "content": content}
    if call is not None:
        fn = call["function"]
        out["tool_calls"] = [{"id": call["id"], "function": {
            "index": 0, "name": fn["name"], "arguments": json.loads(fn["arguments"])}}]
    return out


def _base(name: str) -> str:
    return name.rsplit("/", 1)[-1].partition(":")[0].lower()


def is_embedding(name: str) -> bool:
    """True for embedding-only models (they neither chat nor generate)."""
    return "embed" in _base(name)


def can_think(name: str) -> bool:
    """True when ``name`` belongs to a family with the ``thinking`` capability."""
    return _base(name).startswith(THINKING_FAMILIES)


def capabilities(name: str) -> List[str]:
    """The ``capabilities`` list of ``/api/show``."""
    if is_embedding(name):
        return ["embedding"]
    return ["completion", "tools"] + (["thinking"] if can_think(name) else [])


def thinking_error(name: str) -> str:
    """Ollama's message when ``think`` is asked of a model that cannot think."""
    return f'"{name}" does not support thinking'


def think_requested(body: Dict[str, Any]) -> bool:
    """``think`` is ``true`` or a level (``"low"``, ``"medium"``, ``"high"``)."""
    value = body.get("think")
    return value is True or (isinstance(value, str) and value.lower() not in ("", "false", "none"))


def show_body(name: str, size: int, modified_at: str) -> Dict[str, Any]:
    """The ``/api/show`` answer for a present model (Ollama API docs, "Show Model Information")."""
    details = details_for(name)
    arch = details["family"].replace("-", "_")
    template = "{{ if .System }}{{ .System }}\n{{ end }}{{ .Prompt }}"
    return {
        "modelfile": f"# Modelfile generated by \"ollama show\"\nFROM {name}\nTEMPLATE \"\"\"{template}\"\"\"",
        "parameters": 'num_ctx                        4096\nstop                           "<|eot_id|>"',
        "template": template,
        "details": details,
        "model_info": {"general.architecture": arch, "general.file_type": 2, "general.parameter_count": size // 2,
                       f"{arch}.context_length": 131072, f"{arch}.embedding_length": 2048},
        "capabilities": capabilities(name),
        "modified_at": modified_at,
    }


def keep_alive_seconds(value: Union[None, int, float, str]) -> Optional[float]:
    """``keep_alive`` in seconds: numbers are seconds, strings like ``"10m"``; None means the default;
    a negative value keeps the model loaded forever (returned as ``inf``).  Raise ValueError when unparsable."""
    if value is None:
        return DEFAULT_KEEP_ALIVE
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value).strip())
        if not m:
            raise ValueError(value)
        seconds = float(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float("inf") if seconds < 0 else seconds


def ps_entry(name: str, size: int, expires: datetime) -> Dict[str, Any]:
    """One ``/api/ps`` entry (Ollama API docs, "List Running Models"); fully in VRAM."""
    return {"name": name, "model": name, "size": size, "digest": digest_for(name), "details": details_for(name),
            "expires_at": expires.isoformat(), "size_vram": size, "context_length": 4096}


def expiry(seconds: float) -> datetime:
    """When a model loaded now with ``keep_alive`` of ``seconds`` unloads (far future for ``inf``)."""
    now = datetime.now(timezone.utc)
    return now + (timedelta(days=365 * 100) if seconds == float("inf") else timedelta(seconds=seconds))
