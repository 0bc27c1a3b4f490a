"""Building blocks of the blueprint JSON Schema shared by :mod:`schema` and :mod:`schema_consumers`."""

from __future__ import annotations

from typing import Any, Dict, Iterable, Optional

DURATION_PATTERN = r"^\s*(?:[0-9]+(?:\.[0-9]+)?|(?:[0-9]+(?:\.[0-9]+)?(?:ms|h|m|s))+)\s*$"


def field(kind: Any, title: str, description: str, **extra: Any) -> Dict[str, Any]:
    spec: Dict[str, Any] = {"title": title, "description": description}
    if kind is not None:
        spec["type"] = kind
    spec.update(extra)
    return spec


def obj(title: str, description: str, properties: Dict[str, Any],
         required: Iterable[str] = (), **extra: Any) -> Dict[str, Any]:
    spec = field("object", title, description, properties=properties, additionalProperties=False, **extra)
    if required:
        spec["required"] = list(required)
    return spec


def open_map(title: str, description: str, values: Optional[Dict[str, Any]] = None, **extra: Any) -> Dict[str, Any]:
    return field("object", title, description, additionalProperties=values if values is not None else True, **extra)


def duration(title: str, description: str) -> Dict[str, Any]:
    return field(["number", "string"], title, description + " Seconds as a number, or a string such as "
                  "500ms, 30s, 2m, 1h, 1m30s.", pattern=DURATION_PATTERN, exclusiveMinimum=0)


def integer(title: str, description: str, minimum: int = 0) -> Dict[str, Any]:
    return field("integer", title, description, minimum=minimum)


EXPECTATION = obj("Expectation", "One check on the smoke answer: exactly one of equals, contains, "
                                      "regex, not_empty or length.", {
    "path": field("string", "Path", "Where to look in the predict response, e.g. "
                                     "inference_results[0].output[0].dataAsMap.choices[0].message.content.",
                   minLength=1),
    "equals": field(None, "Equals", "The value must equal this (JSON value)."),
    "contains": field("string", "Contains", "The value, as text, must contain this."),
    "regex": field("string", "Regex", "The value, as text, must match this Python regular expression "
                                       "(re.search)."),
    "not_empty": field("boolean", "Not empty", "The value must exist and not be null, blank, [] or {}."),
    "length": integer("Length", "The value (a list, object or text) must have exactly this many items, e.g. "
                             "the dimension of an embedding."),
    "ignore_case": field("boolean", "Ignore case", "Compare case-insensitively (equals, contains, regex)."),
}, required=("path",))

