"""The text space accepts any unicode up to its cap, and the spaces hold every observation."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium.vector.utils import batch_space, concatenate, create_empty_array

from codearc_env.spaces import MAX_ACTION_CHARS, TextSpace, action_space, observation_space


@pytest.mark.parametrize(
    "text", ["", "f(1, 'a')\n", "é中🙂\t\r\x00", "\udcff", "x" * 10], ids=repr
)
def test_text_space_accepts_any_str_within_cap(text: str) -> None:
    assert text in TextSpace(max_length=10)


@pytest.mark.parametrize("value", ["x" * 11, b"abc", None, 3, ["a"]], ids=repr)
def test_text_space_rejects_other_values(value: object) -> None:
    assert value not in TextSpace(max_length=10)


def test_min_length_and_bad_bounds() -> None:
    assert "" not in TextSpace(max_length=5, min_length=1)
    with pytest.raises(ValueError, match="need 0 <= min_length <= max_length, got 3, 2"):
        TextSpace(max_length=2, min_length=3)


def test_sample_is_seeded_short_and_inside() -> None:
    space = TextSpace(max_length=MAX_ACTION_CHARS, seed=3)
    samples = [space.sample() for _ in range(50)]
    assert all(s in space and len(s) <= 64 for s in samples)
    space.seed(3)
    assert [space.sample() for _ in range(50)] == samples
    assert len(set(samples)) > 40


def test_equality_and_repr() -> None:
    assert TextSpace(5) == TextSpace(5) and TextSpace(5) != TextSpace(6)
    assert repr(TextSpace(5, 1)) == "TextSpace(min_length=1, max_length=5)"


def test_vector_utilities_batch_text_as_tuples() -> None:
    space = observation_space(30, 2, 50)
    batched = batch_space(space, 3)
    empty = create_empty_array(space, n=3)
    assert empty["text"] == ("", "", "")
    items = [space.sample() for _ in range(3)]
    out = concatenate(space, items, empty)
    assert out["text"] == tuple(i["text"] for i in items)
    assert batched["io_left"].nvec.tolist() == [31, 31, 31]


def test_action_space_sample_is_well_formed() -> None:
    space = action_space()
    space.seed(0)
    action = space.sample()
    assert set(action) == {"kind", "text"} and isinstance(action["text"], str)
    assert int(action["kind"]) in (0, 1) and isinstance(action["kind"], np.integer)
