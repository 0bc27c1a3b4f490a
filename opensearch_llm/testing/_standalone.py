"""A fake run as its own process: serve until a signal, and the fault flags ``--fail-status``, ``--retry-after``,
``--delay``, ``--malformed`` and ``--max-concurrency`` (see :class:`~opensearch_llm.testing._server.Faults` and
:class:`~opensearch_llm.testing._cap.ConcurrencyCap`)."""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opensearch_llm.testing._server import FakeServer


def serve_until_signal(server: "FakeServer") -> int:
    """Start ``server``, print ``<name> listening on <url>``, serve until SIGINT/SIGTERM; return 0."""
    stop = threading.Event()

    def _on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    server.start()
    print(f"{server.name} listening on {server.url}", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
    return 0


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The standalone fakes' fault flags; they apply to every request until the server stops."""
    group = parser.add_argument_group("faults", "answer every request badly (until the server stops)")
    group.add_argument("--fail-status", type=int, metavar="N", default=None,
                       help="answer with HTTP status N and the provider's error body, e.g. 429, 500, 503")
    group.add_argument("--retry-after", type=int, metavar="S", default=None,
                       help="with --fail-status or --max-concurrency: add a Retry-After: S header to those answers")
    group.add_argument("--delay", type=float, metavar="S", default=0.0,
                       help="wait S seconds before answering (combines with the other flags)")
    group.add_argument("--malformed", action="store_true",
                       help="answer with 200 and a body cut off mid-JSON")
    group.add_argument("--max-concurrency", type=int, metavar="N", default=None,
                       help="like DeepSeek's per-account cap: answer a chat request 429 at once while N are in "
                            "flight (with --delay they stay in flight longer)")


def apply_fault_arguments(parser: argparse.ArgumentParser, server: "FakeServer", args: argparse.Namespace) -> None:
    """Set ``server``'s faults and cap from :func:`add_fault_arguments` flags (``parser.error``, exit 2, when they
    clash)."""
    status, retry_after, cap = args.fail_status, args.retry_after, args.max_concurrency
    if status is not None and not 100 <= status <= 599:
        parser.error(f"--fail-status must be an HTTP status (100-599), got {status}")
    if retry_after is not None and status is None and cap is None:
        parser.error("--retry-after needs --fail-status or --max-concurrency")
    if status is not None and args.malformed:
        parser.error("--fail-status and --malformed exclude each other")
    if args.delay < 0:
        parser.error(f"--delay must not be negative, got {args.delay}")
    if cap is not None and cap < 1:
        parser.error(f"--max-concurrency must be at least 1, got {cap}")
    server.faults.status, server.faults.retry_after = status, retry_after if status is not None else None
    server.faults.delay, server.faults.malformed_json = args.delay, bool(args.malformed)
    if cap is not None:
        server.cap(cap, retry_after=retry_after)
