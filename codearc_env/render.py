"""The text an agent sees: examples, query results, oracle feedback and the whole prompt.

Everything shown is clipped to the caps of :mod:`codearc_env.spaces`, with a marker that says
how much was cut, so observations always fit their space.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from codearc_env.spaces import (
    MAX_CALL_CHARS,
    MAX_FEEDBACK_CHARS,
    MAX_NAME_CHARS,
    MAX_OUTPUT_CHARS,
    MAX_TEXT_CHARS,
)

if TYPE_CHECKING:
    from codearc_env.protocol import EpisodeState


def clip(text: str, cap: int) -> str:
    """``text`` cut to at most ``cap`` characters, ending in a marker when cut."""
    if len(text) <= cap:
        return text
    marker = f"... [{len(text)} characters, clipped]"
    return text[: max(0, cap - len(marker))] + marker[:cap]


@dataclass(frozen=True)
class Pair:
    """One observed input/output pair, as shown: initial example or query result."""

    call: str
    output: str
    errored: bool
    initial: bool

    @classmethod
    def make(cls, call: str, output: str, errored: bool, initial: bool) -> Pair:
        return cls(clip(call, MAX_CALL_CHARS), clip(output, MAX_OUTPUT_CHARS), errored, initial)

    def line(self) -> str:
        arrow = "-> error:" if self.errored else "->"
        return f"{self.call} {arrow} {self.output}"


def examples_text(pairs: Sequence[Pair]) -> str:
    return Transcript(pairs).text()


class Transcript:
    """An episode's pairs, with the text they render to kept up to date as pairs are added.

    An observation shows every pair so far; rendering them all again on every step would make
    an episode's cost grow with the square of its length. Here a step costs the same whatever
    came before: each pair's line is made once, and only the lines within the text cap are
    kept for the text (the rest count towards its length, which the clip marker states).
    """

    def __init__(self, pairs: Sequence[Pair] = ()) -> None:
        self.pairs: list[Pair] = []
        self.calls: list[str] = []
        self.outputs: list[str] = []
        self.errored: list[int] = []
        self._head: list[str] = []  # the first lines, enough of them to fill the text cap
        self._head_chars = -1  # length of "\n".join(self._head)
        self._chars = -1  # length of "\n".join(every line)
        self._text: str | None = ""
        self.extend(pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def extend(self, pairs: Sequence[Pair]) -> None:
        for p in pairs:
            line = p.line()
            self.pairs.append(p)
            self.calls.append(p.call)
            self.outputs.append(p.output)
            self.errored.append(int(p.errored))
            self._chars += len(line) + 1
            if self._head_chars < MAX_TEXT_CHARS:
                self._head.append(line)
                self._head_chars += len(line) + 1
            self._text = None

    def text(self) -> str:
        """Every pair's line, one per line, clipped to the text cap: ``clip("\n".join(...))``."""
        if self._text is None:
            if self._chars <= MAX_TEXT_CHARS:
                self._text = "\n".join(self._head)
            else:  # the head holds at least the cap's worth of text
                marker = f"... [{self._chars} characters, clipped]"
                kept = "\n".join(self._head)[: max(0, MAX_TEXT_CHARS - len(marker))]
                self._text = kept + marker[:MAX_TEXT_CHARS]
        return self._text


def query_feedback(ran: Sequence[Pair], requested: int, io_left: int) -> str:
    lines = [p.line() for p in ran]
    skipped = requested - len(ran)
    if skipped:
        lines.append(
            f"Only {len(ran)} of the {requested} calls ran: the I/O budget is spent. "
            f"The other {skipped} were not run and cost nothing."
        )
    lines.append(f"Queries left: {io_left}.")
    return clip("\n".join(lines), MAX_FEEDBACK_CHARS)


def invalid_feedback(reason: str, ends_episode: bool) -> str:
    tail = (
        "No submission was made when one was required: the episode is over."
        if ends_episode
        else "This action cost a turn and nothing else."
    )
    return clip(f"Invalid action: {reason}\n{tail}", MAX_FEEDBACK_CHARS)


def verdict_feedback(passed: bool, counterexample: str | None, oracle_left: int) -> str:
    if passed:
        return "Correct: your program matches the hidden function. The episode is over."
    lines = ["Incorrect: your program differs from the hidden function."]
    if counterexample:
        lines.append(counterexample)
    if oracle_left:
        lines.append(f"Submissions left: {oracle_left}.")
    else:
        lines.append("No submissions left: the episode is over.")
    return clip("\n".join(lines), MAX_FEEDBACK_CHARS)


def prompt_text(
    state: EpisodeState, name: str, pairs: Sequence[Pair] | Transcript, feedback: str
) -> str:
    """The whole observation as text: what a language agent is shown at each step."""
    transcript = pairs if isinstance(pairs, Transcript) else Transcript(pairs)
    return _prompt_text(state, name, transcript, feedback, state.io_left, state.oracle_left,
                        state.turns_left)


def _prompt_text(
    state: EpisodeState, name: str, transcript: Transcript, feedback: str, io_left: int,
    oracle_left: int, turns_left: int,
) -> str:
    """prompt_text, given the state's counts (an observation reads each once)."""
    parts = [
        f"Hidden function: {name}",
        "",
        "Observed calls (call -> output; outputs are str() of the return value):",
        transcript.text(),
    ]
    if feedback:
        parts += ["", "Last action:", feedback]
    parts += ["", f"Queries left: {io_left}. Submissions left: {oracle_left}. "
              f"Turns left: {turns_left}."]
    if state.done:
        parts.append("The episode is over.")
    elif state.must_submit:  # forced_final implies must_submit
        if state.forced_final:
            parts.append("No queries left and one submission left: your next action must be a "
                         "submission (the final attempt).")
        else:
            parts.append("No queries left: only submissions are possible.")
    return clip("\n".join(parts), MAX_TEXT_CHARS)


def observation(
    state: EpisodeState, name: str, pairs: Sequence[Pair] | Transcript, feedback: str
) -> dict[str, Any]:
    """The observation of an episode in ``state`` whose hidden function is called ``name``:
    what ``reset`` and ``step`` return (training rows are built from it too)."""
    transcript = pairs if isinstance(pairs, Transcript) else Transcript(pairs)
    io_left, oracle_left, turns_left = state.io_left, state.oracle_left, state.turns_left
    return {
        "text": _prompt_text(state, name, transcript, feedback, io_left, oracle_left, turns_left),
        "function_name": clip(name, MAX_NAME_CHARS),
        "examples": transcript.text(),
        "calls": tuple(transcript.calls),
        "outputs": tuple(transcript.outputs),
        "errored": tuple(transcript.errored),
        "feedback": feedback,
        "io_left": io_left,
        "oracle_left": oracle_left,
        "turns_left": turns_left,
        "must_submit": int(state.must_submit),
    }
