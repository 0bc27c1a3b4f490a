"""Durations and smoke expectations: the values blueprints, consumers and probes share."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Optional

from opensearch_llm.errors import excerpt
from opensearch_llm.blueprint.paths import get_path
from opensearch_llm.blueprint.schema import DURATION_PATTERN

DEFAULT_TIMEOUT = 60.0
DEFAULT_ANSWER = "inference_results[0].output[0].dataAsMap.choices[0].message.content"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)")


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string like ``500ms``, ``30s``, ``2m``, ``1h``, ``1m30s``; ``ValueError`` otherwise."""
    hint = "(use e.g. 30s, 2m, 500ms)"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"bad duration {value!r} {hint}")
    if isinstance(value, str):
        if not re.match(DURATION_PATTERN, value):
            raise ValueError(f"bad duration {value!r} {hint}")
        text = value.strip()
        parts = _PART.findall(text)
        seconds = sum(float(n) * _UNITS[u] for n, u in parts) if parts else float(text)
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"bad duration {value!r} (must be greater than 0)")
    return seconds


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value in ([], {})


@dataclass(frozen=True)
class Expectation:
    """One smoke check: the value at ``path`` must satisfy exactly one of the conditions."""

    path: str
    equals: Any = None
    contains: Optional[str] = None
    regex: Optional[str] = None
    not_empty: bool = False
    ignore_case: bool = False
    length: Optional[int] = None

    def check(self, response: Dict[str, Any]) -> Optional[str]:
        """None when ``response`` satisfies this expectation, else the reason it does not."""
        try:
            value = get_path(response, self.path)
        except KeyError as exc:
            return f"{self.path}: {exc}"
        shown = excerpt(_as_text(value), 200)
        if self.not_empty and _is_empty(value):
            return f"{self.path}: expected a non-empty value, got {shown!r}"
        if self.equals is not None and not self._equal(value):
            return f"{self.path}: expected {self.equals!r}, got {shown!r}"
        if self.contains is not None and not self._contains(_as_text(value)):
            return f"{self.path}: expected it to contain {self.contains!r}, got {shown!r}"
        flags = re.IGNORECASE if self.ignore_case else 0
        if self.regex is not None and not re.search(self.regex, _as_text(value), flags):
            return f"{self.path}: expected a match for /{self.regex}/, got {shown!r}"
        if self.length is not None:
            return self._length_failure(value, shown)
        return None

    def _length_failure(self, value: Any, shown: str) -> Optional[str]:
        if not isinstance(value, (list, tuple, dict, str)):
            return f"{self.path}: expected {self.length} items, got a {type(value).__name__}: {shown!r}"
        if len(value) != self.length:
            return f"{self.path}: expected {self.length} items, got {len(value)}"
        return None

    def _equal(self, value: Any) -> bool:
        if self.ignore_case and isinstance(value, str) and isinstance(self.equals, str):
            return value.casefold() == self.equals.casefold()
        return value == self.equals

    def _contains(self, text: str) -> bool:
        if self.ignore_case:
            return str(self.contains).casefold() in text.casefold()
        return str(self.contains) in text
