"""What a completed driver run says of each input, worked out only as far as a check asks.

A passing candidate needs every input judged. A failing one needs its suspects (inputs whose
driver results disagreed, or that the driver could not settle) only in the order fresh runs
take them, simplest first, one group at a time; and the driver's own first disagreement only
when no fresh run fails. Judging every result up front cost a wrong candidate's check most
of its harness time, for suspects its fresh runs never reached.

Each input's judgement depends on its own results only, so judging some inputs, or judging
them in another order, gives each the judgement a full pass gives it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from codearc_env.oracle.reference import Expected, ReferenceTable
from codearc_env.oracle.sequence import DriverRun
from codearc_env.oracle.verdict import Counterexample
from codearc_env.sandbox.base import CallResult

if TYPE_CHECKING:
    from codearc_env.oracle.candidate_run import CandidateRun

Judged = bool | None
"""True: agrees; False: disagrees; None: the driver run cannot tell."""
_ABSENT = "absent"
"""No judgement in that pass: the input is not in it, or it repeats the sequence pass's."""


def _judged_alike(
    seen: tuple[CallResult, CallResult | None, Judged], got: CallResult,
    theirs: CallResult | None,
) -> bool:
    """Whether judging ``got`` against ``theirs`` repeats the judgement ``seen`` of the same
    entry, which then needs no second look: the same result object, and it agreed with the
    entry (what the reference's in-driver result was does not matter then) or the reference's
    in-driver result is equal too."""
    before, their_before, judged = seen
    return got is before and (judged is True or theirs == their_before)


def in_sequence_context(i: int) -> str:
    if i:
        return f"after {i} other calls in the same process"
    return "first in a process that then runs the other inputs"


def fresh_context(i: int) -> str:
    return "in a fresh module namespace of a process that ran other inputs"


class DriverJudgement:
    """The judgements of one completed driver run over ``entries`` (the base table's first,
    in its order), made on first use and kept."""

    def __init__(
        self, run: CandidateRun, table: ReferenceTable, entries: list[Expected], n_base: int,
        drive: DriverRun, keep: Sequence[bool],
    ) -> None:
        assert drive.completed
        self.run, self.entries, self.keep = run, entries, keep
        self.theirs_seq: Sequence[CallResult | None] = table.sequence or (None,) * n_base
        self.theirs_fresh: Sequence[CallResult | None] = (
            (table.namespaced or (None,) * n_base) + (None,) * (len(entries) - n_base)
        )
        rest = run._after_agreeing_base(table, entries, n_base, drive, keep)
        if rest is not None:  # only the fresh results of further entries need a look
            self.sequence: Sequence[CallResult] = ()
            self.fresh: Sequence[CallResult] = rest
            self.fresh_start = n_base
        else:
            assert drive.sequence is not None and drive.fresh is not None
            self.sequence, self.fresh, self.fresh_start = drive.sequence, drive.fresh, 0
        self._seq: dict[int, Judged] = {}
        self._fresh: dict[int, Judged | str] = {}

    # ---- one input ----------------------------------------------------------------
    def in_sequence(self, i: int) -> Judged | str:
        """The judgement of the sequence pass's result at position ``i``."""
        if i >= len(self.sequence):
            return _ABSENT
        if i not in self._seq:
            self._seq[i] = self.run._driver_agrees(
                self.entries, i, self.sequence[i], self.theirs_seq[i], self.keep[i]
            )
        return self._seq[i]

    def in_fresh(self, i: int) -> Judged | str:
        """The judgement of the fresh pass's result of entry ``i`` (absent when it repeats
        the sequence pass's judgement of the same result)."""
        k = i - self.fresh_start
        if not 0 <= k < len(self.fresh):
            return _ABSENT
        if i not in self._fresh:
            got = self.fresh[k]
            seen = self.in_sequence(i)
            if not isinstance(seen, str) and _judged_alike(
                (self.sequence[i], self.theirs_seq[i], seen), got, self.theirs_fresh[i]
            ):
                self._fresh[i] = _ABSENT
            else:
                self._fresh[i] = self.run._driver_agrees(
                    self.entries, i, got, self.theirs_fresh[i], self.keep[i]
                )
        return self._fresh[i]

    def status(self, i: int) -> str:
        """One of "bad" (a pass disagreed), "unsettled" (a pass could not tell), "agrees"."""
        judged = (self.in_sequence(i), self.in_fresh(i))
        if False in judged:
            return "bad"
        return "unsettled" if None in judged else "agrees"

    # ---- what a check asks --------------------------------------------------------
    def agrees_everywhere(self) -> bool:
        """Whether every result agrees (a scan that stops at the first that does not)."""
        return all(self.status(i) == "agrees" for i in range(len(self.entries)))

    def first(self) -> tuple[str, Counterexample] | None:
        """The first disagreement in the driver's order (the sequence pass, then the fresh
        pass) as a reason and counterexample, or None."""
        for i in range(len(self.sequence)):
            if self.in_sequence(i) is False:
                return self.run._disagreement(self.entries[i], self.sequence[i],
                                              in_sequence_context(i))
        for k, got in enumerate(self.fresh):
            i = k + self.fresh_start
            if self.in_fresh(i) is False:
                return self.run._disagreement(self.entries[i], got, fresh_context(i))
        return None

    def bad_and_unsettled(self) -> tuple[list[int], list[int]]:
        """The indices of every entry that disagreed in either pass, and of every other one
        the driver run could not settle (fresh runs must confirm them)."""
        statuses = [self.status(i) for i in range(len(self.entries))]
        return (
            [i for i, s in enumerate(statuses) if s == "bad"],
            [i for i, s in enumerate(statuses) if s == "unsettled"],
        )

    def suspects(self, target: str) -> InFreshOrder:
        """The entries that disagreed or could not be settled, in the order fresh runs take
        them (:func:`in_fresh_order` of the disagreeing ones, then the unsettled ones, by
        index), judged as far as they are asked for."""

        def made() -> Iterator[Expected]:
            by_length: dict[int, list[int]] = {}
            for i, e in enumerate(self.entries):
                by_length.setdefault(e.input.call_length(target), []).append(i)
            for length in sorted(by_length):
                statuses = [(i, self.status(i)) for i in by_length[length]]
                yield from (self.entries[i] for i, s in statuses if s == "bad")
                yield from (self.entries[i] for i, s in statuses if s == "unsettled")

        return InFreshOrder(made())


class InFreshOrder:
    """Entries in the order fresh runs take them, made as far as they are asked for (a
    list's indexing: ``[j]`` reads and replaces the j-th)."""

    def __init__(self, items: Iterator[Expected]) -> None:
        self._made: list[Expected] = []
        self._items = items

    def has(self, j: int) -> bool:
        """Whether there is a j-th entry (making entries up to it)."""
        while len(self._made) <= j:
            item = next(self._items, None)
            if item is None:
                return False
            self._made.append(item)
        return True

    def positions(self, start: int, size: int) -> list[int]:
        """The positions ``start`` to ``start + size - 1`` that exist."""
        self.has(start + size - 1)
        return list(range(start, min(start + size, len(self._made))))

    def __getitem__(self, j: int) -> Expected:
        return self._made[j]

    def __setitem__(self, j: int, e: Expected) -> None:
        self._made[j] = e


def in_fresh_order(entries: Sequence[Expected], target: str) -> InFreshOrder:
    """``entries`` the simplest call first (by its length), ties in their order."""
    order = sorted(range(len(entries)), key=lambda j: (entries[j].input.call_length(target), j))
    return InFreshOrder(entries[j] for j in order)
