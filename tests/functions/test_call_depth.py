"""The host's call parser and the sandbox's codec agree on one nesting limit."""

from __future__ import annotations

import pytest

from codearc_env.errors import CallParseError
from codearc_env.functions.calls import parse_call
from codearc_env.sandbox import codec

SHAPES = {
    "list": ("[", "1", "]"),
    "tuple": ("(", "1", ",)"),
    "dict": ("{1: ", "1", "}"),
    "empty list": ("[", "", "]"),
    "frozenset": ("frozenset([", "1", "])"),
}


def nested(shape: str, depth: int) -> str:
    opening, inner, closing = SHAPES[shape]
    return "f(" + opening * depth + inner + closing * depth + ")"


def encodes(call_text: str) -> bool:
    try:
        [value] = parse_call(call_text).args
    except CallParseError:
        return False
    codec.encode(value)  # EncodeError here: the parser let through what the codec refuses
    return True


@pytest.mark.parametrize("shape", list(SHAPES))
def test_whatever_parses_also_encodes_and_the_limit_is_the_codecs(shape: str) -> None:
    accepted = [depth for depth in range(1, 230) if encodes(nested(shape, depth))]
    assert accepted == list(range(1, max(accepted) + 1))
    # The deepest value accepted has an element at the codec's limit (an empty innermost
    # container sits there itself); frozenset(...) hits Python's own parenthesis limit first.
    want = {"empty list": codec.MAX_DEPTH + 1, "frozenset": 99}.get(shape, codec.MAX_DEPTH)
    assert max(accepted) == want


@pytest.mark.parametrize("depth", [101, 150, 198])
def test_too_deep_is_a_parse_error_with_the_limit_named(depth: int) -> None:
    with pytest.raises(CallParseError) as caught:
        parse_call(nested("list", depth))
    assert str(caught.value) == (
        f"statement 1: arguments are nested more than {codec.MAX_DEPTH} levels deep"
    )
