"""Helpers for oracle tests: hand-built hidden functions and sandbox wrappers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from codearc_env.errors import CallParseError
from codearc_env.functions.calls import ParsedCall, parse_call
from codearc_env.functions.spec import Comparison, Example, HiddenFunction, Quirks
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits, Sandbox


def make_fn(
    code: str,
    target: str,
    calls: Sequence[str],
    *,
    nondeterministic: bool = False,
    comparison: Comparison | None = None,
    variant: str = "annotated",
) -> HiddenFunction:
    """A hand-built hidden function whose examples are the given call texts."""
    examples = tuple(
        Example(k, f"print('Result {k + 1}: ' + str({c}))", _literal_call(c, target), c, "?", False)
        for k, c in enumerate(calls)
    )
    return HiddenFunction(
        index=0,
        variant=variant,  # type: ignore[arg-type]
        source="builtin",
        code=code,
        target=target,
        examples=examples,
        quirks=Quirks(nondeterministic=nondeterministic),
        comparison=comparison or Comparison(),
        name=target,
    )


def _literal_call(text: str, target: str) -> ParsedCall | None:
    """The call when ``text`` is a literal call of ``target``; None for ``list(f(1))`` and the like."""
    try:
        return parse_call(text, target)
    except CallParseError:
        return None


class CountingSandbox(Sandbox):
    """Delegates to a real sandbox and counts the invocations it runs."""

    name = "counting"

    def __init__(self, inner: Sandbox) -> None:
        super().__init__(inner.limits)
        self.inner = inner
        self.invocations = 0

    def start(self) -> None:
        self.inner.start()

    def close(self) -> None:
        pass  # the inner sandbox belongs to the fixture

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        self.invocations += len(invocations)
        return self.inner.run(source, function, invocations, limits, isolation=isolation)

    def info(self) -> BackendInfo:
        return self.inner.info()


class BrokenSandbox(CountingSandbox):
    """Reports an infrastructure failure on every invocation after the first ``healthy``."""

    def __init__(self, inner: Sandbox, healthy: int = 0) -> None:
        super().__init__(inner)
        self.healthy = healthy

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        results = super()._run_calls(source, function, invocations, limits, isolation)
        out = []
        for r in results:
            if self.healthy > 0:
                self.healthy -= 1
                out.append(r)
            else:
                out.append(replace(r, ok=False, value=None, infra_error="worker died (test)"))
        return out
