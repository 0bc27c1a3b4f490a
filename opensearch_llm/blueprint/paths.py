"""Path expressions into JSON-like data: ``inference_results[0].output[0].dataAsMap.choices[0].message.content``.

Grammar: segments separated by ``.``; a segment is a bare key (no ``.``, ``[``, ``]``, quotes or
whitespace), optionally followed by list indexes ``[0]`` (negative counts from the end) or quoted
keys ``["a.b"]``.  A path may also start with an index (``[0].name``).  :func:`get_all` also takes one
``[*]`` (every item of a list): ``data[*].id``.
"""

from __future__ import annotations

import json
import re
from typing import Any, List, Sequence, Union

Token = Union[str, int]
PathLike = Union[str, Sequence[Token]]

_NAME = re.compile(r"[^.\[\]\"'\s]+")
_BRACKET = re.compile(r'\[(?:(?P<index>-?\d+)|"(?P<quoted>(?:[^"\\]|\\.)*)")\]')
_MISSING = object()


class PathNotFound(KeyError):
    """A path segment is missing; ``segment`` names it and ``at`` is the path that exists."""

    def __init__(self, segment: Token, at: str, detail: str) -> None:
        self.segment = segment
        self.at = at
        self.message = f"{_show(segment)} not found at {at or '<root>'} ({detail})"
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def _show(token: Token) -> str:
    return f"[{token}]" if isinstance(token, int) else repr(token)


def parse_path(path: str) -> List[Token]:
    """Split ``path`` into str keys and int indexes; raise ``ValueError`` on bad syntax."""
    if not isinstance(path, str) or not path.strip():
        raise ValueError("empty path")
    tokens: List[Token] = []
    pos, after_dot = 0, False
    while pos < len(path):
        char = path[pos]
        if char == "[":
            if after_dot:
                raise ValueError(f"'[' right after '.' at position {pos}")
            pos = _read_bracket(path, pos, tokens)
        elif char == ".":
            if pos == 0 or after_dot:
                raise ValueError(f"empty segment at position {pos}")
            pos, after_dot = pos + 1, True
            continue
        else:
            match = _NAME.match(path, pos)
            if not match:
                raise ValueError(f"unexpected {char!r} at position {pos}")
            if tokens and not after_dot:
                raise ValueError(f"missing '.' before {match.group()!r} at position {pos}")
            tokens.append(match.group())
            pos = match.end()
        after_dot = False
    if after_dot:
        raise ValueError("path ends with '.'")
    return tokens


def _read_bracket(path: str, pos: int, tokens: List[Token]) -> int:
    match = _BRACKET.match(path, pos)
    if not match:
        raise ValueError(f"bad index at position {pos} (use [0] or [\"key\"])")
    if match.group("index") is not None:
        tokens.append(int(match.group("index")))
    else:
        tokens.append(json.loads(f'"{match.group("quoted")}"'))
    return match.end()


def format_path(tokens: Sequence[Token]) -> str:
    """Inverse of :func:`parse_path`: ``("connector", "actions", 0, "url")`` -> ``connector.actions[0].url``."""
    out = []
    for token in tokens:
        if isinstance(token, int):
            out.append(f"[{token}]")
        elif _NAME.fullmatch(str(token)):
            out.append(f".{token}" if out else str(token))
        else:
            out.append(f"[{json.dumps(str(token))}]")
    return "".join(out)


def _tokens(path: PathLike) -> List[Token]:
    return parse_path(path) if isinstance(path, str) else list(path)


def _step(current: Any, token: Token) -> Any:
    if isinstance(token, int):
        if isinstance(current, list) and -len(current) <= token < len(current):
            return current[token]
        return _MISSING
    if isinstance(current, dict) and token in current:
        return current[token]
    return _MISSING


def _why(current: Any) -> str:
    if isinstance(current, dict):
        keys = list(current)[:10]
        return "keys: " + (", ".join(str(k) for k in keys) if keys else "none")
    if isinstance(current, list):
        return f"a list of {len(current)} item(s)"
    return f"got {type(current).__name__}"


def get_path(obj: Any, path: PathLike) -> Any:
    """The value at ``path`` in ``obj``; raise :class:`PathNotFound` (a ``KeyError``) naming the missing segment."""
    tokens = _tokens(path)
    current = obj
    for i, token in enumerate(tokens):
        following = _step(current, token)
        if following is _MISSING:
            raise PathNotFound(token, format_path(tokens[:i]), _why(current))
        current = following
    return current


def find_path(obj: Any, path: PathLike, default: Any = None) -> Any:
    """The value at ``path`` in ``obj``, or ``default`` when any segment is missing."""
    try:
        return get_path(obj, path)
    except KeyError:
        return default


WILDCARD = "[*]"


def split_wildcard(expression: str) -> "tuple[List[Token], List[Token]]":
    """``data[*].id`` -> (``["data"]``, ``["id"]``); without ``[*]`` the second part is empty.

    Raise ``ValueError`` on bad syntax or on more than one ``[*]``.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise ValueError("empty path")
    head, star, tail = expression.partition(WILDCARD)
    if WILDCARD in tail:
        raise ValueError("at most one [*] is allowed")
    if star and tail and not tail.startswith((".", "[")):
        raise ValueError(f"missing '.' after [*] at position {len(head) + len(star)}")
    prefix = parse_path(head) if head else []
    suffix = parse_path(tail.lstrip(".")) if tail else []
    return prefix, suffix


def get_all(obj: Any, expression: str) -> List[Any]:
    """The values ``expression`` selects: with ``[*]``, the rest of the path in every item of that list;
    without, the value itself, which must be a list.  Raise :class:`PathNotFound` (a ``KeyError``) or
    ``ValueError`` when the data does not fit."""
    prefix, suffix = split_wildcard(expression)
    items = get_path(obj, prefix) if prefix else obj
    if not isinstance(items, list):
        raise ValueError(f"expected a list at {format_path(prefix) or '<root>'}, got {type(items).__name__}")
    return [get_path(item, suffix) for item in items] if suffix else list(items)
