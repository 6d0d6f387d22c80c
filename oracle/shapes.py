"""Infer value shapes (types, ranges, alphabets, sizes) from observed literal arguments.

A :class:`Shape` summarises every value seen in one argument position, recursively, and
turns into a Hypothesis strategy that stays near what was observed: integers inside and just
outside the observed range plus its boundaries, strings over the observed alphabet (widened
to its character classes) up to a little past the longest, containers of inferred elements.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

MAX_SIZE = 60
"""Generated containers and strings stay short: long ones rarely find more differences."""
_CLASSES = (string.digits, string.ascii_lowercase, string.ascii_uppercase)


@dataclass
class Shape:
    """Everything observed at one position; built by :meth:`add`, then :meth:`strategy`."""

    ints: list[int] = field(default_factory=list)
    floats: list[float] = field(default_factory=list)
    bools: bool = False
    none: bool = False
    chars: set[str] = field(default_factory=set)
    str_lens: list[int] = field(default_factory=list)
    byte_lens: list[int] = field(default_factory=list)
    list_elem: Shape | None = None
    list_lens: list[int] = field(default_factory=list)
    tuple_items: dict[int, list[Shape]] = field(default_factory=dict)
    set_elem: Shape | None = None
    set_lens: list[int] = field(default_factory=list)
    frozen: bool = False
    dict_key: Shape | None = None
    dict_value: Shape | None = None
    dict_lens: list[int] = field(default_factory=list)

    def add(self, value: Any, depth: int = 0) -> None:
        if depth > 20:
            return
        t = type(value)
        if value is None:
            self.none = True
        elif t is bool:
            self.bools = True
        elif t is int:
            self.ints.append(value)
        elif t is float:
            if value == value and abs(value) != float("inf"):
                self.floats.append(value)
        elif t is str:
            self.chars.update(value)
            self.str_lens.append(len(value))
        elif t is bytes:
            self.byte_lens.append(len(value))
        elif t is list:
            self.list_elem = self.list_elem or Shape()
            self.list_lens.append(len(value))
            for x in value:
                self.list_elem.add(x, depth + 1)
        elif t is tuple:
            slots = self.tuple_items.setdefault(len(value), [Shape() for _ in value])
            for s, x in zip(slots, value, strict=True):
                s.add(x, depth + 1)
        elif t in (set, frozenset):
            self.frozen = self.frozen or t is frozenset
            self.set_elem = self.set_elem or Shape()
            self.set_lens.append(len(value))
            for x in value:
                self.set_elem.add(x, depth + 1)
        elif t is dict:
            self.dict_key = self.dict_key or Shape()
            self.dict_value = self.dict_value or Shape()
            self.dict_lens.append(len(value))
            for k, v in value.items():
                self.dict_key.add(k, depth + 1)
                self.dict_value.add(v, depth + 1)

    def strategy(self) -> st.SearchStrategy:
        """A strategy near the observed values; small integers when nothing was observed."""
        parts: list[st.SearchStrategy[Any]] = []
        if self.none:
            parts.append(st.none())
        if self.bools:
            parts.append(st.booleans())
        if self.ints:
            parts.append(_ints(min(self.ints), max(self.ints)))
        if self.floats:
            parts.append(_floats(min(self.floats), max(self.floats)))
        if self.str_lens:
            parts.append(_text(self.chars, max(self.str_lens)))
        if self.byte_lens:
            parts.append(st.binary(max_size=_cap(max(self.byte_lens))))
        if self.list_elem is not None:
            parts.append(st.lists(self.list_elem.strategy(), max_size=_cap(max(self.list_lens))))
        for _n, slots in sorted(self.tuple_items.items()):
            parts.append(st.tuples(*[s.strategy() for s in slots]))
        if self.set_elem is not None:
            kind: Any = frozenset if self.frozen else set
            elem = self.set_elem.strategy()
            parts.append(st.sets(elem, max_size=_cap(max(self.set_lens))).map(kind))
        if self.dict_key is not None and self.dict_value is not None:
            parts.append(
                st.dictionaries(
                    self.dict_key.strategy(),
                    self.dict_value.strategy(),
                    max_size=_cap(max(self.dict_lens)),
                )
            )
        if not parts:
            return st.integers(-10, 10)
        return st.one_of(*parts)


def _cap(observed_max: int) -> int:
    return min(observed_max + 2, MAX_SIZE)


def _ints(lo: int, hi: int) -> st.SearchStrategy:
    span = max(hi - lo, 10)
    near_lo = lo - span if lo < 0 else max(0, lo - span)
    boundaries = sorted({lo, hi, lo - 1, hi + 1, 0, 1, -1})
    return st.one_of(
        st.integers(lo, hi),
        st.integers(near_lo, hi + span),
        st.sampled_from(boundaries),
    )


def _floats(lo: float, hi: float) -> st.SearchStrategy:
    span = max(hi - lo, 10.0)
    return st.one_of(
        st.floats(lo, hi, allow_nan=False, allow_infinity=False),
        st.floats(lo - span, hi + span, allow_nan=False, allow_infinity=False),
        st.sampled_from(sorted({lo, hi, 0.0, 0.5, -1.0})),
        st.integers(int(lo) - 1, int(hi) + 1).map(float),
    )


def _text(chars: set[str], longest: int) -> st.SearchStrategy:
    observed = "".join(sorted(chars)) or "ab"
    widened = set(observed)
    for cls in _CLASSES:
        if widened & set(cls):
            widened.update(cls)
    return st.one_of(
        st.text(alphabet=observed, max_size=_cap(longest)),
        st.text(alphabet="".join(sorted(widened)), max_size=_cap(longest)),
    )
