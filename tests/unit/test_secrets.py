"""Secret wrapper, deep reveal/mask helpers and the process-wide text mask."""

from __future__ import annotations

import copy
import json

import pytest

from opensearch_llm.secrets import MASK, Secret, known_secrets, mask_text, masked, register_secret, reveal


def test_secret_never_renders_its_value() -> None:
    s = Secret("sk-unit-render-0001")
    assert repr(s) == "***"
    assert str(s) == "***"
    assert f"{s}" == "***"
    assert f"{s:>5}" == "  ***"
    assert "%s" % s == "***"
    assert "sk-unit" not in repr({"k": s})
    assert "sk-unit" not in repr([s, (s,)])


def test_reveal_returns_the_value() -> None:
    assert Secret("sk-unit-reveal-0002").reveal() == "sk-unit-reveal-0002"


def test_equality_and_hash_by_value() -> None:
    a, b, c = Secret("sk-unit-eq-0003"), Secret("sk-unit-eq-0003"), Secret("sk-unit-eq-0004")
    assert a == b and a != c
    assert hash(a) == hash(b)
    assert len({a, b, c}) == 2
    assert a != "sk-unit-eq-0003"  # never equal to a plain string


def test_secret_wraps_only_strings() -> None:
    with pytest.raises(TypeError):
        Secret(1234)  # type: ignore[arg-type]
    assert Secret(Secret("sk-unit-nested-0005")).reveal() == "sk-unit-nested-0005"


def test_json_dumps_refuses_secrets() -> None:
    with pytest.raises(TypeError) as info:
        json.dumps({"credential": {"key": Secret("sk-unit-json-0006")}})
    assert "sk-unit-json-0006" not in str(info.value)


def test_reveal_and_masked_deep_copy() -> None:
    data = {"a": [Secret("sk-unit-deep-0007"), {"b": (Secret("sk-unit-deep-0008"), 3)}], "c": "plain"}
    assert reveal(data) == {"a": ["sk-unit-deep-0007", {"b": ("sk-unit-deep-0008", 3)}], "c": "plain"}
    assert masked(data) == {"a": [MASK, {"b": (MASK, 3)}], "c": "plain"}
    assert isinstance(data["a"][0], Secret)  # the original is untouched
    assert json.dumps(masked(data))  # masked output is serialisable


def test_creating_a_secret_registers_it() -> None:
    Secret("sk-unit-registry-0009")
    assert "sk-unit-registry-0009" in known_secrets()
    assert mask_text("key=sk-unit-registry-0009;") == "key=***;"


def test_short_values_are_not_registered() -> None:
    register_secret("abc")
    assert "abc" not in known_secrets()
    assert mask_text("abc abc", extra=["xyz"]) == "abc abc"


def test_mask_text_extras_and_longest_first() -> None:
    register_secret("sk-unit-long-0010")
    text = "a sk-unit-long-0010-suffix and sk-unit-long-0010 and extra-value-99"
    assert mask_text(text, extra=["extra-value-99", Secret("sk-unit-long-0010-suffix")]) == "a *** and *** and ***"


def test_deepcopy_keeps_the_value() -> None:
    s = copy.deepcopy({"k": Secret("sk-unit-copy-0011")})["k"]
    assert isinstance(s, Secret) and s.reveal() == "sk-unit-copy-0011"
