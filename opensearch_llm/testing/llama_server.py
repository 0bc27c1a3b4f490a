"""A real OpenAI-compatible server for tests: llama.cpp's (``llama-cpp-python[server]``) on loopback, serving a tiny
GGUF model the suite writes itself with the ``gguf`` package (no download).

Two models (about 0.1 MB each): ``random`` (random weights: answers noise, for wire-format tests) and ``fixed``
(hand-set weights: whatever it is asked, it answers one word, so a smoke probe can pass). The ``fixed`` model is a
bigram model: attention and feed-forward weights are zero, so the last layer sees only the embedding of the last
token; every token but the answer is embedded on one axis, the answer on another, and the output matrix maps the
first axis to the answer and the second to end-of-text.

Install with the ``llama`` extra (``pip install 'opensearch-llm[llama]'``); pip compiles llama.cpp the first time
(about 4 minutes on 2 cores) and reuses its wheel cache afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

ANSWER = "pong"
CHAT_TEMPLATE = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}assistant:{% endif %}")
N_EMBD, N_FF, N_HEAD, N_LAYER, N_CTX = 64, 128, 4, 2, 512


def available() -> Optional[str]:
    """None when llama.cpp's server and the gguf writer can be imported, else why not."""
    for module in ("llama_cpp.server", "gguf", "numpy"):
        try:
            __import__(module)
        except Exception as exc:  # noqa: BLE001 - an import error of a compiled extension can be anything
            return f"{module} cannot be imported ({type(exc).__name__}: {exc}); install opensearch-llm[llama]"
    return None


def _byte_tokens() -> list[str]:
    """GPT-2's byte-to-unicode table: the 256 byte tokens of a byte-level BPE vocabulary, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            chars[byte] = chr(byte)
        else:
            chars[byte] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def write_model(path: Path, kind: str = "fixed", answer: str = ANSWER, seed: int = 7) -> Path:
    """Write a valid llama-architecture GGUF model to ``path``: ``fixed`` answers ``answer``, ``random`` noise."""
    import gguf
    import numpy as np

    tokens = _byte_tokens()
    merges = [f"{answer[:i]} {answer[i]}" for i in range(1, len(answer))]
    tokens += [answer[:i + 1] for i in range(1, len(answer))] + ["<s>", "</s>"]
    writer = gguf.GGUFWriter(str(path), "llama")
    _write_metadata(writer, tokens, merges)
    rng = np.random.default_rng(seed)

    def weights(*shape: int) -> Any:
        return (rng.standard_normal(shape) * 0.2).astype(np.float32) if kind == "random" \
            else np.zeros(shape, dtype=np.float32)

    _write_tensors(writer, weights, len(tokens), answer_id=len(tokens) - 3, eos=len(tokens) - 1, fixed=kind == "fixed")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def _write_metadata(writer: Any, tokens: list, merges: list) -> None:
    """The model's shape and a byte-level tokenizer whose last two tokens are BOS and EOS."""
    for call, value in (("add_context_length", N_CTX), ("add_embedding_length", N_EMBD),
                        ("add_block_count", N_LAYER), ("add_feed_forward_length", N_FF),
                        ("add_head_count", N_HEAD), ("add_head_count_kv", N_HEAD),
                        ("add_rope_dimension_count", N_EMBD // N_HEAD), ("add_layer_norm_rms_eps", 1e-5),
                        ("add_file_type", 0)):
        getattr(writer, call)(value)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types([1] * (len(tokens) - 2) + [3, 3])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(len(tokens) - 2)
    writer.add_eos_token_id(len(tokens) - 1)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)


def _write_tensors(writer: Any, weights: Callable[..., Any], n_tokens: int, answer_id: int, eos: int,
                   fixed: bool) -> None:
    """With ``fixed``: every token maps to the answer, the answer to the end of text (zero attention, zero FFN)."""
    import numpy as np

    embd, out = weights(n_tokens, N_EMBD), weights(n_tokens, N_EMBD)
    if fixed:
        embd[:, 0] = 1.0  # every token on axis 0 ...
        embd[answer_id] = 0.0
        embd[answer_id, 1] = 1.0  # ... but the answer, on axis 1
        out[answer_id, 0] = 10.0  # axis 0 -> the answer
        out[eos, 1] = 10.0  # axis 1 -> end of text
    writer.add_tensor("token_embd.weight", embd)
    writer.add_tensor("output_norm.weight", np.ones(N_EMBD, dtype=np.float32))
    writer.add_tensor("output.weight", out)
    for layer in range(N_LAYER):
        blk = f"blk.{layer}"
        writer.add_tensor(f"{blk}.attn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        writer.add_tensor(f"{blk}.ffn_norm.weight", np.ones(N_EMBD, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            writer.add_tensor(f"{blk}.{name}.weight", weights(N_EMBD, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_gate.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_up.weight", weights(N_FF, N_EMBD))
        writer.add_tensor(f"{blk}.ffn_down.weight", weights(N_EMBD, N_FF))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 with a model written by :func:`write_model`.

    ``url`` is the OpenAI-compatible base URL (``…/v1``); ``alias`` the model id it lists; ``log`` its output
    (request lines included). Stops on ``stop()`` or leaving the ``with`` block.
    """

    def __init__(self, directory: Path, kind: str = "fixed", alias: str = "tiny-pong",
                 api_key: Optional[str] = None, extra_args: Sequence[str] = ()) -> None:
        self.directory, self.kind, self.alias, self.api_key = Path(directory), kind, alias, api_key
        self.extra_args = list(extra_args)
        self.port = _free_port()
        self.log = self.directory / f"llama-{self.port}.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> "LlamaServer":
        self.directory.mkdir(parents=True, exist_ok=True)
        model = write_model(self.directory / f"{self.kind}.gguf", self.kind)
        args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                "--port", str(self.port), "--model_alias", self.alias, "--n_ctx", str(N_CTX), *self.extra_args]
        if self.api_key:
            args += ["--api_key", self.api_key]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"llama.cpp's server exited ({self.proc.returncode}): {self.tail()}")
            try:
                request = urllib.request.Request(f"{self.url}/models", headers=self._auth())
                with urllib.request.urlopen(request, timeout=2):
                    return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"llama.cpp's server did not answer within {timeout:.0f} s: {self.tail()}")

    def _auth(self) -> dict:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
