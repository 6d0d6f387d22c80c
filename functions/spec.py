"""The frozen specification of one hidden function: what the benchmark knows about it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codearc_env.functions.calls import ParsedCall

Variant = Literal["annotated", "anonymized"]
Source = Literal["humaneval+", "mbpp+", "apps", "builtin"]
VARIANTS: tuple[Variant, ...] = ("annotated", "anonymized")
UPSTREAM_VARIANT_DIR: dict[str, str] = {"annotated": "annotated", "anonymized": "anonymous"}
TIMEOUT_OUTPUT = "Execution timed out after 10 seconds"


@dataclass(frozen=True)
class Example:
    """One stored initial example, as the upstream data records it."""

    k: int
    """Position 0..9 among the problem's initial examples."""
    call_text: str
    """The raw stored statement, e.g. ``print('Result 1: ' + str(f(3)))``."""
    call: ParsedCall | None
    """The call with literal arguments; None when the stored call is not literal or invalid."""
    expression: str | None
    """The call expression without the print wrapper (None when the text does not parse)."""
    output: str
    """What the agent is shown: ``str()`` of the return value, or the exception message."""
    errored: bool

    @property
    def timed_out(self) -> bool:
        return self.errored and self.output.strip() == TIMEOUT_OUTPUT


@dataclass(frozen=True)
class Quirks:
    """Properties of a problem found by code (see :mod:`codearc_env.functions.quirks`)."""

    ill_posed: bool = False
    """Some examples call a function other than the target."""
    invalid_calls: int = 0
    """Stored calls that are not valid Python."""
    nondeterministic: bool = False
    """The target's results can differ between runs (it uses randomness, time, ...)."""
    large_output: bool = False
    """An initial output longer than ``LARGE_OUTPUT_CHARS``."""
    errored_examples: int = 0
    timed_out_examples: int = 0

    def flags(self) -> tuple[str, ...]:
        """Names of the quirks that are present, for display and filtering."""
        names = []
        if self.ill_posed:
            names.append("ill_posed")
        if self.invalid_calls:
            names.append("invalid_calls")
        if self.nondeterministic:
            names.append("nondeterministic")
        if self.large_output:
            names.append("large_output")
        if self.errored_examples:
            names.append("errored_examples")
        if self.timed_out_examples:
            names.append("timed_out_examples")
        return tuple(names)


@dataclass(frozen=True)
class Comparison:
    """How the oracle compares a candidate's result with the reference's, per function."""

    float_rel_tol: float = 1e-9
    float_abs_tol: float = 1e-12
    bool_equals_int: bool = False
    """False: ``True`` and ``1`` differ (types are compared structurally)."""
    exception_type_must_match: bool = False
    """False (the paper's rule): any exception matches any exception."""


@dataclass(frozen=True)
class HiddenFunction:
    """One problem of one variant: the hidden module, its target, and its initial examples."""

    index: int
    variant: Variant
    source: Source
    code: str
    """The whole module text; the target may rely on helpers defined in it."""
    target: str
    """Name of the target: the last top-level ``def`` not named ``main``."""
    examples: tuple[Example, ...]
    quirks: Quirks = field(default_factory=Quirks)
    comparison: Comparison = field(default_factory=Comparison)
    name: str = ""
    """Stable short name; built-in functions use their own names, benchmark ones are empty."""

    @property
    def problem_id(self) -> str:
        """``annotated/12``, ``anonymized/12`` or ``builtin/<variant>/<name>``."""
        if self.source == "builtin":
            return f"builtin/{self.variant}/{self.name}"
        return f"{self.variant}/{self.index}"
