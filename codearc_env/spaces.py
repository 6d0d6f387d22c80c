"""The observation and action spaces, and a text space that accepts any unicode.

Gymnasium's ``Text`` space only admits characters of a fixed charset (letters and digits by
default), which rejects the spaces, newlines, quotes and unicode that calls and programs are
made of. :class:`TextSpace` checks the type and the length only.

Every text field has a documented cap; the environment clips what it shows to these caps, so
observations are always inside their space.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.error import CustomSpaceError
from gymnasium.vector.utils import create_empty_array, create_shared_memory

MAX_ACTION_CHARS = 100_000
"""Longest action text (a query or a submitted program). Longer actions are invalid."""
MAX_NAME_CHARS = 256
"""Longest function name."""
MAX_CALL_CHARS = 2_000
"""A call is shown clipped to this many characters."""
MAX_OUTPUT_CHARS = 10_000
"""An output (``str()`` of a value or an error) is shown clipped to this many characters."""
MAX_FEEDBACK_CHARS = 400_000
"""Longest feedback text (a query of many calls lists every result)."""
MAX_TEXT_CHARS = 4_000_000
"""Longest composed text: the examples block and the whole rendered observation."""

_SAMPLE_ALPHABET = tuple(
    " \n()[]{},.:'\"=+-*_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    "éßλ中🙂"
)
_SAMPLE_MAX_LEN = 64


class TextSpace(spaces.Space[str]):
    """Any ``str`` of ``min_length`` to ``max_length`` characters, any unicode.

    ``sample()`` draws short strings (at most 64 characters) from a mixed alphabet of code
    punctuation, letters, digits and a few non-ASCII characters: enough to exercise an
    environment, not a model of real actions.

    >>> space = TextSpace(max_length=5)
    >>> "a b\\n" in space, "toolong" in space, b"bytes" in space
    (True, False, False)
    """

    def __init__(self, max_length: int, min_length: int = 0, seed: Any = None) -> None:
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length}, {max_length}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        super().__init__(dtype=str, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        if mask is not None or probability is not None:
            raise NotImplementedError("TextSpace.sample does not support masks")
        high = max(self.min_length, min(self.max_length, _SAMPLE_MAX_LEN))
        length = int(self.np_random.integers(self.min_length, high + 1))
        picks = self.np_random.integers(0, len(_SAMPLE_ALPHABET), size=length)
        return "".join(_SAMPLE_ALPHABET[i] for i in picks)

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"TextSpace(min_length={self.min_length}, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TextSpace)
            and other.min_length == self.min_length
            and other.max_length == self.max_length
        )

    def __hash__(self) -> int:
        return hash((TextSpace, self.min_length, self.max_length))

    def to_jsonable(self, sample_n: Any) -> list[Any]:
        return list(sample_n)

    def from_jsonable(self, sample_n: list[Any]) -> list[Any]:
        return list(sample_n)


@create_empty_array.register(TextSpace)
def _empty_text(space: TextSpace, n: int = 1, fn: Any = np.zeros) -> tuple[str, ...]:
    # Vector envs preallocate observations; a text slot starts as the shortest valid string.
    return tuple(" " * space.min_length for _ in range(n))


@create_shared_memory.register(TextSpace)
def _no_shared_text(space: TextSpace, n: int = 1, ctx: Any = None) -> Any:
    raise CustomSpaceError(
        "text observations of any length cannot live in shared memory: "
        "use AsyncVectorEnv(..., shared_memory=False)"
    )


QUERY, SUBMIT = 0, 1
"""Values of the action's ``kind``."""


def action_space() -> spaces.Dict:
    """``{"kind": 0 (query) | 1 (submit), "text": str}``."""
    return spaces.Dict(
        {"kind": spaces.Discrete(2), "text": TextSpace(max_length=MAX_ACTION_CHARS)}
    )


def observation_space(b_io: int, b_oracle: int, max_turns: int) -> spaces.Dict:
    """The observation: text for language agents plus the same facts in structured form.

    - ``text``: everything the agent sees, as :meth:`CodeARCEnv.render` returns it.
    - ``function_name``: the target's name (never its signature, docstring or hints).
    - ``examples``: every input/output pair seen so far, one ``call -> output`` per line.
    - ``calls`` / ``outputs`` / ``errored``: the same pairs, one tuple entry each.
    - ``feedback``: the response to the last action (empty after reset).
    - ``io_left`` / ``oracle_left`` / ``turns_left``: what remains of each budget.
    - ``must_submit``: 1 when no query is possible any more (see docs/env.md).
    """
    return spaces.Dict(
        {
            "text": TextSpace(max_length=MAX_TEXT_CHARS),
            "function_name": TextSpace(max_length=MAX_NAME_CHARS, min_length=1),
            "examples": TextSpace(max_length=MAX_TEXT_CHARS),
            "calls": spaces.Sequence(TextSpace(max_length=MAX_CALL_CHARS)),
            "outputs": spaces.Sequence(TextSpace(max_length=MAX_OUTPUT_CHARS)),
            "errored": spaces.Sequence(spaces.Discrete(2)),
            "feedback": TextSpace(max_length=MAX_FEEDBACK_CHARS),
            "io_left": spaces.Discrete(b_io + 1),
            "oracle_left": spaces.Discrete(b_oracle + 1),
            "turns_left": spaces.Discrete(max_turns + 1),
            "must_submit": spaces.Discrete(2),
        }
    )
