"""Checks of one smoke expectation (a blueprint's or a consumer's): one condition, a valid regex and path."""

from __future__ import annotations

import re
from typing import Any, Dict, List

from opensearch_llm.errors import Problem
from opensearch_llm.blueprint.paths import parse_path
from opensearch_llm.blueprint.source import KeyPath, Locator

CONDITIONS = ("equals", "contains", "regex", "not_empty", "length")
EXPECT_KEYS = frozenset(CONDITIONS) | {"path", "ignore_case"}


def check_expectation(loc: Locator, path: KeyPath, item: Dict[str, Any]) -> List[Problem]:
    """Problems of one expectation: exactly one condition, a valid regex and path."""
    problems: List[Problem] = []
    chosen = [k for k in CONDITIONS if k in item and (k != "not_empty" or item[k] is True)]
    if len(chosen) != 1 and set(item) <= EXPECT_KEYS:  # an unknown key is probably a misspelt condition
        problems.append(loc.problem(path, "an expectation needs exactly one of equals, contains, regex, not_empty, length "
                                          f"(got {', '.join(chosen) or 'none'})"))
    if isinstance(item.get("regex"), str):
        try:
            re.compile(item["regex"])
        except re.error as exc:
            problems.append(loc.problem(path + ("regex",), f"bad regex {item['regex']!r}: {exc}"))
    if isinstance(item.get("path"), str) and item["path"]:
        problems += path_problems(loc, path + ("path",), item["path"])
    return problems


def path_problems(loc: Locator, path: KeyPath, expression: str) -> List[Problem]:
    """A Problem when ``expression`` is not a valid path expression."""
    try:
        parse_path(expression)
    except ValueError as exc:
        return [loc.problem(path, f"bad path {expression!r}: {exc}")]
    return []
