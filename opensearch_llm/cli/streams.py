"""Output that can go away: a closed pipe (``up | head``), a CI log pipe that closes, a dropped SSH session.

Writing to a closed stdout or stderr raises ``BrokenPipeError`` in Python, wherever the write happens: in the
middle of provisioning, inside a rollback, at interpreter exit. A run must never stop half-way because its
output went away, so the standard streams are replaced by writers that drop their output from the first
broken pipe on (the run goes on and finishes, or rolls back completely), and SIGHUP is handled like Ctrl-C
(see :mod:`opensearch_llm.cli.signals`).
"""

from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any


class _DropWhenClosed(io.RawIOBase):
    """A raw writer on a file descriptor that swallows EPIPE (and stops writing) instead of raising."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.broken = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data: Any) -> int:
        size = len(data)
        if self.broken:
            return size
        try:
            return os.write(self.fd, data)
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.EIO, errno.ECONNRESET):
                raise
            self.broken = True  # the reader is gone: everything from here on is dropped
            return size


def _guarded(stream: Any) -> Any:
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return stream  # not a real file (a test's capture): left as it is
    raw = _DropWhenClosed(fd)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding=stream.encoding, errors=stream.errors,
                            line_buffering=True, write_through=True)


def guard_standard_streams() -> None:
    """Make stdout and stderr writes safe against a reader that went away (idempotent)."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not getattr(stream, "_opensearch_llm_guarded", False):
            guarded = _guarded(stream)
            if guarded is not stream:
                guarded._opensearch_llm_guarded = True  # type: ignore[attr-defined]
            setattr(sys, name, guarded)


def output_gone(stream: Any) -> bool:
    """True once the reader of a guarded ``stream`` went away (its writes are being dropped)."""
    raw = getattr(getattr(stream, "buffer", None), "raw", None)
    return isinstance(raw, _DropWhenClosed) and raw.broken
