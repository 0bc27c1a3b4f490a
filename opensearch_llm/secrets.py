"""Secrets: a string wrapper that never prints itself, and a process-wide mask for text.

A :class:`Secret` renders as ``***`` through ``repr``, ``str`` and ``format``; the real value is
only available through :meth:`Secret.reveal` or :func:`reveal`, which is meant for one place: building
the body of an HTTP request.  ``json.dumps`` of a structure holding a Secret raises ``TypeError``
(use :func:`masked` or :func:`reveal` first), so a secret cannot slip into a log line by accident.

Every Secret registers its value in a process-wide registry; :func:`mask_text` replaces every
registered value (and any extras) in a piece of text with ``***``.  Error messages pass through it
before they are shown.  Logs are masked at the source: the first registered secret installs a
log-record factory (:func:`install_log_masking`) that masks the message and the exception text of
every record any logger creates, whatever the handlers, levels or verbosity.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any, FrozenSet, Iterable

MASK = "***"
MIN_SECRET_LENGTH = 4

_registry: set = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember ``value`` so :func:`mask_text` hides it; values shorter than 4 characters are ignored."""
    if isinstance(value, Secret):
        value = value.reveal()
    if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
        return
    escaped = json.dumps(value)[1:-1]  # how the value reads inside a JSON request body
    with _lock:
        _registry.add(value)
        if escaped != value:
            _registry.add(escaped)
    install_log_masking()


_masking_installed = False


def install_log_masking() -> None:
    """Mask every log record of the process from now on (idempotent; called by the first secret).

    A record factory sees every record of every logger (the toolkit's, opensearch-py's, urllib3's,
    requests') before any filter or handler does, so no logger configuration can print a secret.
    """
    global _masking_installed
    with _lock:
        if _masking_installed:
            return
        _masking_installed = True
    make_record = logging.getLogRecordFactory()

    def masking_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _mask_record(record)
        return record

    logging.setLogRecordFactory(masking_factory)


def _mask_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record is logging's problem, not ours
        message = str(record.msg)
    masked_message = mask_text(message)
    if masked_message != message:  # records without a secret keep their template and arguments
        record.msg, record.args = masked_message, None
    if record.exc_info and not record.exc_text:
        record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = mask_text(record.stack_info)


def known_secrets() -> FrozenSet[str]:
    """The values registered so far (a snapshot)."""
    with _lock:
        return frozenset(_registry)


def mask_text(text: str, extra: Iterable[Any] = ()) -> str:
    """Return ``text`` with every registered secret value and every value in ``extra`` replaced by ``***``.

    Longer values are replaced first, so a secret that contains another one is hidden whole.
    Extras shorter than 4 characters are ignored, like registered values.
    """
    if not isinstance(text, str):
        text = str(text)
    values = set(known_secrets())
    for item in extra:
        value = item.reveal() if isinstance(item, Secret) else item
        if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
            values.add(value)
    for value in sorted(values, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A secret string: shown as ``***`` everywhere, compared and hashed by value."""

    __slots__ = ("_value",)

    def __init__(self, value: "str | Secret") -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"Secret wraps a str, not {type(value).__name__}")
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        """The real value. Use it only to build an outgoing request."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(MASK, spec)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __len__(self) -> int:
        return len(self._value)


def _deep_replace(obj: Any, convert: Any) -> Any:
    if isinstance(obj, Secret):
        return convert(obj)
    if isinstance(obj, dict):
        return {key: _deep_replace(value, convert) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_deep_replace(value, convert) for value in obj]
    if isinstance(obj, tuple):
        return tuple(_deep_replace(value, convert) for value in obj)
    return obj


def reveal(obj: Any) -> Any:
    """Deep copy of dicts/lists/tuples in ``obj`` with every :class:`Secret` replaced by its real value.

    Only for building an HTTP request body; never log the result.
    """
    return _deep_replace(obj, lambda s: s.reveal())


def masked(obj: Any) -> Any:
    """Deep copy of dicts/lists/tuples in ``obj`` with every :class:`Secret` replaced by ``"***"``."""
    return _deep_replace(obj, lambda s: MASK)
