"""What an oracle check returns: a verdict and, on failure, a counterexample.

Both are plain frozen data, computed on the host from encoded results, so nothing the
candidate's interpreter did can change them after the fact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counterexample:
    """One input on which the candidate and the reference disagree, rendered for an agent."""

    call_text: str
    """The failing call, e.g. ``f([1, 2], 'a')``."""
    expected: str | None
    """``str()`` of the reference's return value; None when the reference raised."""
    actual: str | None
    """``str()`` of the candidate's return value; None when it raised or timed out."""
    expected_error: str | None = None
    """``"ValueError: message"`` when the reference raised."""
    actual_error: str | None = None
    """``"ValueError: message"`` when the candidate raised, or a timeout notice."""
    expected_value: str | None = None
    """The reference's value with its types (``Counter({'a': 1})``, ``True (bool)``), set only
    when both sides print the same ``str()`` although the values differ."""
    actual_value: str | None = None
    """The candidate's value rendered the same way (set together with ``expected_value``)."""
    context: str | None = None
    """How the call was made when that matters, e.g. after other calls in the same process."""

    def feedback(self) -> str:
        """The text shown to an agent: the input, then expected and actual output."""
        expected = self.expected_error if self.expected_error is not None else self.expected
        actual = self.actual_error if self.actual_error is not None else self.actual
        lines = [f"Input: {self.call_text}"]
        if self.context:
            lines.append(f"Called: {self.context}")
        lines += [f"Expected output: {expected}", f"Your output: {actual}"]
        if self.expected_value is not None and self.actual_value is not None:
            lines += [
                f"Expected value (repr and type): {self.expected_value}",
                f"Your value (repr and type): {self.actual_value}",
            ]
        return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    """The oracle's judgement of one candidate."""

    passed: bool
    reason: str
    """One line: why it passed or failed (e.g. ``wrong result on f(3)``)."""
    counterexample: Counterexample | None
    """Set when the failure is on a specific input (never for a candidate that cannot load)."""
    n_inputs: int
    """Inputs the candidate was run on before the verdict was reached."""
    duration_s: float

    def feedback(self) -> str:
        """Agent-facing text: the reason, plus the counterexample when there is one."""
        if self.passed:
            return "The candidate passed the oracle."
        if self.counterexample is None:
            return f"The candidate failed: {self.reason}."
        return self.counterexample.feedback()
