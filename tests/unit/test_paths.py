"""Path expressions: parsing, formatting and lookup."""

from __future__ import annotations

import pytest

from opensearch_llm.blueprint.paths import PathNotFound, find_path, format_path, get_path, parse_path

ANSWER = "inference_results[0].output[0].dataAsMap.choices[0].message.content"
RESPONSE = {"inference_results": [{"output": [{"dataAsMap": {
    "choices": [{"message": {"content": "pong", "reasoning_content": "thinking"}}]}}]}]}


def test_parse_answer_path() -> None:
    assert parse_path(ANSWER) == ["inference_results", 0, "output", 0, "dataAsMap", "choices", 0, "message", "content"]


@pytest.mark.parametrize("path, tokens", [
    ("a", ["a"]),
    ("[0]", [0]),
    ("[0].name", [0, "name"]),
    ("a[-1]", ["a", -1]),
    ("a[0][1]", ["a", 0, 1]),
    ('headers["Content.Type"].x', ["headers", "Content.Type", "x"]),
    ("Content-Type", ["Content-Type"]),
    ("embeddings[0]", ["embeddings", 0]),
])
def test_parse_valid(path: str, tokens: list) -> None:
    assert parse_path(path) == tokens


@pytest.mark.parametrize("path, fragment", [
    ("", "empty path"),
    ("a..b", "empty segment"),
    (".a", "empty segment"),
    ("a.", "ends with '.'"),
    ("a[x]", "bad index"),
    ("a[0", "bad index"),
    ("a]", "unexpected"),
    ("a[0]b", "missing '.'"),
    ("a.[0]", "right after '.'"),
    ("a b", "unexpected"),
])
def test_parse_invalid(path: str, fragment: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_path(path)
    assert fragment in str(info.value)


@pytest.mark.parametrize("tokens", [["a", 0, "b"], ["headers", "X.Y", 2], [0, "x"], ["Content-Type"]])
def test_format_round_trip(tokens: list) -> None:
    assert parse_path(format_path(tokens)) == tokens


def test_format_connector_path() -> None:
    assert format_path(("connector", "actions", 0, "url")) == "connector.actions[0].url"
    assert format_path(()) == ""


def test_get_path_returns_value() -> None:
    assert get_path(RESPONSE, ANSWER) == "pong"
    assert get_path(RESPONSE, ["inference_results", -1, "output", 0, "dataAsMap", "choices", 0, "message",
                               "reasoning_content"]) == "thinking"


def test_get_path_names_first_missing_segment() -> None:
    with pytest.raises(KeyError) as info:
        get_path(RESPONSE, "inference_results[0].output[0].dataAsMap.response.text")
    err = info.value
    assert isinstance(err, PathNotFound)
    assert err.segment == "response"
    assert err.at == "inference_results[0].output[0].dataAsMap"
    assert "'response' not found at inference_results[0].output[0].dataAsMap (keys: choices)" == str(err)


def test_get_path_index_out_of_range_and_wrong_type() -> None:
    with pytest.raises(KeyError, match=r"\[3\] not found at inference_results\[0\].output"):
        get_path(RESPONSE, "inference_results[0].output[3]")
    with pytest.raises(KeyError, match="got str"):
        get_path(RESPONSE, ANSWER + ".deeper")


def test_find_path_default() -> None:
    assert find_path(RESPONSE, ANSWER) == "pong"
    assert find_path(RESPONSE, "nope[0]", default="d") == "d"
    assert find_path({"a": None}, "a", default="d") is None
