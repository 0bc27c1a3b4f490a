"""Rendering of Ollama pull progress on stderr: a bar per layer on a terminal, plain lines otherwise."""

from __future__ import annotations

from typing import Any, Dict, Optional, TextIO

import click

from opensearch_llm.units import human_size


class PullProgress:
    """An ``on_event`` callback for :meth:`opensearch_llm.ollama.OllamaHost.pull`.

    On a terminal every layer (digest) gets one line with a bar that is redrawn in place (``\\r``).
    Elsewhere (CI logs, pipes) it prints one line per status change and one each time a layer
    crosses another ``step`` percent, so a log stays short and readable.
    """

    def __init__(self, out: Optional[TextIO] = None, *, tty: Optional[bool] = None, prefix: str = "",
                 width: int = 24, step: int = 10) -> None:
        self.out = out if out is not None else click.get_text_stream("stderr")
        self.tty = bool(self.out.isatty()) if tty is None else tty
        self.prefix, self.width, self.step = prefix, width, max(1, step)
        self._status: Optional[str] = None
        self._shown: Dict[str, int] = {}
        self._open = False

    def __call__(self, event: Dict[str, Any]) -> None:
        """Render one NDJSON event of ``/api/pull``."""
        status = str(event.get("status") or "")
        digest, total = event.get("digest"), event.get("total")
        if isinstance(digest, str) and isinstance(total, int) and total > 0:
            completed = event.get("completed")
            self._layer(status or f"pulling {digest.split(':')[-1][:12]}", digest, total,
                        completed if isinstance(completed, int) else 0)
        elif status and status != self._status:
            self._line(status)
        self._status = status

    def finish(self) -> None:
        """End a bar line left open on a terminal."""
        if self._open:
            self.out.write("\n")
            self.out.flush()
            self._open = False

    def _line(self, text: str) -> None:
        self.finish()
        self.out.write(f"{self.prefix}{text}\n")
        self.out.flush()

    def _layer(self, label: str, digest: str, total: int, completed: int) -> None:
        percent = max(0, min(100, completed * 100 // total))
        amount = f"{human_size(completed)}/{human_size(total)}"
        if self.tty:
            if self._open and self._status != label:
                self.finish()
            filled = percent * self.width // 100
            bar = "#" * filled + "-" * (self.width - filled)
            self.out.write(f"\r{self.prefix}{label}  [{bar}] {percent:3d}%  {amount}")
            self.out.flush()
            self._open = True
            return
        mark = percent // self.step
        if label != self._status or mark > self._shown.get(digest, -1):
            self._shown[digest] = mark
            self._line(f"{label}: {percent:3d}%  {amount}")
