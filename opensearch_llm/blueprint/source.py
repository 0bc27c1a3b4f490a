"""Read a blueprint's YAML keeping line numbers, and apply ``--set`` overrides.

The file is composed with ``yaml.SafeLoader`` and the node tree is turned into plain Python
(dict/list/str/int/float/bool/None) while every key path, e.g. ``("connector", "actions", 0, "url")``,
is mapped to its 1-based line.  Duplicate keys, syntax errors and a non-mapping root become
:class:`~opensearch_llm.errors.Problem` objects instead of exceptions.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple, Union

import yaml

from opensearch_llm.errors import Problem
from opensearch_llm.blueprint.paths import Token, format_path, parse_path

KeyPath = Tuple[Token, ...]
Lines = Dict[KeyPath, int]
OVERRIDE_FILE = "--set"

_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("null", "bool", "int", "float", "str")}
_TEXT_TAGS = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary"}
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass
class Locator:
    """Turns key paths into located Problems for one file."""

    file: str
    lines: Lines = field(default_factory=dict)

    def line(self, path: Sequence[Token]) -> Optional[int]:
        """The line of ``path``, else of its nearest parent that has one."""
        path = tuple(path)
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def problem(self, path: Sequence[Token], message: str) -> Problem:
        """A Problem at ``path`` in this file."""
        return Problem(self.file, self.line(path), format_path(path), message)


@dataclass
class Source:
    """A parsed blueprint file: ``data`` is None when the file could not be turned into a mapping."""

    file: str
    data: Optional[Dict[str, Any]]
    lines: Lines
    problems: List[Problem]

    @property
    def locator(self) -> Locator:
        """A :class:`Locator` over this file's lines."""
        return Locator(self.file, self.lines)


class _Converter:
    """Node tree -> plain Python, recording lines and problems."""

    def __init__(self, file: str) -> None:
        self.locator = Locator(file)
        self.problems: List[Problem] = []
        self.constructor = yaml.SafeLoader("")
        self.active: set = set()

    def convert(self, node: yaml.Node, path: KeyPath) -> Any:
        """Plain Python for ``node`` at ``path``, recording lines and problems on the way."""
        self.locator.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if id(node) in self.active:
            self.problems.append(self.locator.problem(path, "recursive YAML alias"))
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.convert(item, path + (i,)) for i, item in enumerate(node.value)]
        finally:
            self.active.discard(id(node))

    def _scalar(self, node: yaml.ScalarNode, path: KeyPath) -> Any:
        if node.tag in _PLAIN_TAGS:
            return self.constructor.construct_object(node, deep=True)
        if node.tag not in _TEXT_TAGS:
            self.problems.append(self.locator.problem(path, f"unsupported YAML tag {node.tag!r}"))
        return node.value

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> Dict[str, Any]:
        result: Dict[str, Any] = {}
        first_line: Dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                self._merge(result, value_node, path)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(self.locator.problem(path, "mapping keys must be plain strings"))
                continue
            key = str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in first_line:
                self.problems.append(Problem(self.locator.file, line, format_path(path + (key,)),
                                             f"duplicate key '{key}' (first defined on line {first_line[key]})"))
                continue
            first_line[key] = line
            self.locator.lines[path + (key,)] = line
            result[key] = self.convert(value_node, path + (key,))
        return result

    def _merge(self, result: Dict[str, Any], node: yaml.Node, path: KeyPath) -> None:
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            merged = self.convert(source, path) if isinstance(source, yaml.MappingNode) else None
            if merged is None:
                self.problems.append(self.locator.problem(path, "'<<' merge needs a mapping"))
                continue
            for key, value in merged.items():
                result.setdefault(key, value)


def _syntax_problem(file: str, exc: yaml.YAMLError) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    text = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"YAML syntax error: {text}" + (f" ({context})" if context else "")
    if "\\t" in message or "\t" in message:
        message += "; YAML does not allow tabs for indentation, use spaces"
    return Problem(file, mark.line + 1 if mark else None, "", message)


def parse_text(text: str, file: str) -> Source:
    """Parse YAML ``text`` (named ``file`` in problems) into a :class:`Source`."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        return Source(file, None, {}, [_syntax_problem(file, exc)])
    if root is None:
        return Source(file, None, {}, [Problem(file, 1, "", "file is empty: expected a mapping with a 'blueprint' key")])
    if not isinstance(root, yaml.MappingNode):
        kind = "a list" if isinstance(root, yaml.SequenceNode) else "a single value"
        line = root.start_mark.line + 1
        return Source(file, None, {}, [Problem(file, line, "", f"the top level must be a mapping, got {kind}")])
    converter = _Converter(file)
    data = converter.convert(root, ())
    return Source(file, data, converter.locator.lines, converter.problems)


def read_source(path: Union[str, Path]) -> Source:
    """Read and parse the blueprint at ``path``, a file or a shipped name (an existing file wins; see
    :mod:`opensearch_llm.catalog`); an unreadable file becomes one Problem without a line."""
    from opensearch_llm.catalog import not_found_hint, resolve

    file = str(resolve(path))
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        message = f"cannot read blueprint: {reason}{not_found_hint(path)}"
        return Source(file, None, {}, [Problem(file, None, "", message)])
    return parse_text(text, file)


def _parse_value(text: str) -> Any:
    if text == "":
        return ""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        if text.lstrip()[:1] in "[{":
            raise ValueError(f"bad YAML value: {getattr(exc, 'problem', exc)}") from None
        return text
    if isinstance(node, yaml.ScalarNode) or text.lstrip()[:1] in "[{":
        return yaml.safe_load(text)
    return text


def parse_override(text: str) -> Tuple[KeyPath, Any]:
    """Parse ``a.b[0].c=value`` into ``(("a", "b", 0, "c"), value)``; the value is read as YAML.

    ``60s`` stays a string, ``true`` is a bool, ``3`` an int, ``[a, b]`` a list; an empty value is ``""``.
    Raise ``ValueError`` on bad syntax.
    """
    if not isinstance(text, str) or "=" not in text:
        raise ValueError(f"expected PATH=VALUE, got {text!r}")
    raw_path, raw_value = text.split("=", 1)
    try:
        tokens = parse_path(raw_path.strip())
    except ValueError as exc:
        raise ValueError(f"bad path {raw_path.strip()!r}: {exc}") from None
    return tuple(tokens), _parse_value(raw_value.strip())


def _set_in(data: Any, path: KeyPath, value: Any) -> None:
    current = data
    for i, token in enumerate(path):
        last = i == len(path) - 1
        where = format_path(path[:i]) or "<root>"
        if isinstance(token, int):
            if not isinstance(current, list):
                raise ValueError(f"{where} is not a list")
            if token == len(current) and last:
                current.append(value)
                return
            if not -len(current) <= token < len(current):
                raise ValueError(f"index {token} is out of range for {where} ({len(current)} item(s))")
        elif not isinstance(current, dict):
            raise ValueError(f"{where} is not a mapping")
        if last:
            current[token] = value
            return
        if isinstance(token, str) and token not in current:
            current[token] = [] if isinstance(path[i + 1], int) else {}
        current = current[token]


class Overridden(NamedTuple):
    """Result of :func:`apply_overrides`: new data, problems, and the overridden paths."""

    data: Dict[str, Any]
    problems: List[Problem]
    paths: List[str]


def apply_overrides(data: Dict[str, Any], overrides: Iterable[str]) -> Overridden:
    """Apply ``--set`` overrides to a deep copy of ``data``; bad ones become Problems in file ``--set``."""
    result = copy.deepcopy(data)
    problems: List[Problem] = []
    paths: List[str] = []
    for text in overrides:
        target = text.split("=", 1)[0].strip() if isinstance(text, str) else ""
        try:
            path, value = parse_override(text)
            if not path:
                raise ValueError("empty path")
            _set_in(result, path, value)
        except ValueError as exc:
            problems.append(Problem(OVERRIDE_FILE, None, target, f"bad override {text!r}: {exc}"))
            continue
        paths.append(format_path(path))
    return Overridden(result, problems, paths)
