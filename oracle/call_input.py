"""One input of an oracle check: a call of the target with literal arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codearc_env.functions.calls import render_call
from codearc_env.sandbox.codec import EncodeError, canonical, encode


@dataclass(frozen=True)
class CallInput:
    """One call of the target with literal arguments, and where it came from."""

    args: tuple[Any, ...]
    kwargs: tuple[tuple[str, Any], ...] = ()
    origin: str = "drawn"
    """``example``, ``query``, ``mutation``, ``shape``, ``hint``, ``edge`` or ``llm``."""
    expression: str | None = None
    """An example's own expression around the call (``list(f(3))``, ``f()['a']('x')``),
    evaluated in the module instead of a plain call; only ever text from the data set."""

    def call_text(self, target: str) -> str:
        if self.expression is not None:
            return self.expression
        return render_call(target, self.args, self.kwargs)

    def call_length(self, target: str) -> int:
        """``len(self.call_text(target))``, remembered (fresh runs go shortest first, and a
        table's inputs are ordered so in every failing check)."""
        known = self.__dict__.get("_call_length")
        if known is None or known[0] != target:
            known = (target, len(self.call_text(target)))
            object.__setattr__(self, "_call_length", known)  # not a field: not compared
        return known[1]

    def key(self) -> str | None:
        """Canonical identity of the call; None when the arguments cannot be encoded."""
        try:
            plain = [encode(self.args), encode(tuple(self.kwargs))]
        except (EncodeError, RecursionError):
            return None
        return canonical(plain if self.expression is None else [*plain, self.expression])
