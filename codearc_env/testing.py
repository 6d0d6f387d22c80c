"""Test doubles: a sandbox, an oracle and problems that need no real isolation or data.

For unit tests of the environment's protocol and for tests that must run in subprocesses
(vector envs, spawn). Nothing here executes text: the "hidden functions" are trusted Python
callables looked up by name, and the oracle grades submissions by comparing them with a table
of accepted programs. Never use these to run agent code.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from codearc_env.functions.calls import parse_call, render_call
from codearc_env.functions.spec import Example, HiddenFunction, Variant
from codearc_env.oracle.verdict import Counterexample, Verdict
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Isolation, Limits, Sandbox


class SandboxDouble(Sandbox):
    """Base of the sandbox doubles (here and in the tests): not a security boundary; counts
    starts, closes and requests; a subclass answers the calls of a request in :meth:`answer`
    (limits and isolation do not matter to a double)."""

    name = "double"

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__(limits)
        self.started = 0
        self.closed = 0
        self.requests = 0

    def start(self) -> None:
        self.started += 1

    def close(self) -> None:
        self.closed += 1

    def info(self) -> BackendInfo:
        return BackendInfo(self.name, is_security_boundary=False)

    def _run_calls(
        self, source: str, function: str, invocations: Sequence[Invocation], limits: Limits,
        isolation: Isolation,
    ) -> list[CallResult]:
        self.requests += 1
        return self.answer(source, function, invocations)

    @abc.abstractmethod
    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        """The results of ``calls`` of ``function`` from ``source``, in order."""


class CallableSandbox(SandboxDouble):
    """Calls trusted Python callables by target name; counts starts, closes and calls."""

    name = "callable"

    def __init__(self, functions: Mapping[str, Callable[..., Any]], limits: Limits | None = None):
        super().__init__(limits)
        self.functions = dict(functions)
        self.calls = 0
        self.fail_with: str | None = None
        """Set to make every call report this infra error."""

    def answer(self, source: str, function: str, calls: Sequence[Invocation]) -> list[CallResult]:
        out = []
        for inv in calls:
            self.calls += 1
            if self.fail_with is not None:
                out.append(CallResult(ok=False, infra_error=self.fail_with))
                continue
            try:
                value = self.functions[function](*inv.args, **dict(inv.kwargs))
            except Exception as exc:
                out.append(CallResult(ok=False, error_type=type(exc).__name__,
                                      error_message=str(exc)))
                continue
            out.append(CallResult(ok=True, value_str=str(value)))
        return out


FakeCounterexample = Counterexample
"""The oracle's own counterexample type (the name is kept for tests that build one)."""


class TableOracle:
    """Passes a submission iff its stripped text is one of the accepted programs."""

    def __init__(self, accepted: Mapping[str, Sequence[str]]) -> None:
        self.accepted = {k: {s.strip() for s in v} for k, v in accepted.items()}
        self.checks: list[tuple[str, str, tuple[Any, ...]]] = []

    def check(self, fn: HiddenFunction, candidate_source: str, extra_inputs: Any = ()) -> Verdict:
        self.checks.append((fn.problem_id, candidate_source, tuple(extra_inputs)))
        if candidate_source.strip() in self.accepted.get(fn.problem_id, set()):
            return Verdict(True, "equivalent on all inputs", None, 10, 0.0)
        ex = fn.examples[0]
        cx = FakeCounterexample(ex.expression or ex.call_text, ex.output, "something else")
        return Verdict(False, "outputs differ", cx, 10, 0.0)


def toy_function(
    name: str,
    func: Callable[..., Any],
    inputs: Sequence[tuple[Any, ...]],
    *,
    variant: Variant = "annotated",
    index: int = 0,
) -> HiddenFunction:
    """A builtin-style HiddenFunction whose examples are ``func`` run on ``inputs``."""
    examples = []
    for k, args in enumerate(inputs):
        text = render_call(name, tuple(args))
        try:
            output, errored = str(func(*args)), False
        except Exception as exc:
            output, errored = str(exc), True
        examples.append(Example(k, text, parse_call(text, name), text, output, errored))
    return HiddenFunction(
        index=index, variant=variant, source="builtin",
        code=f"# stands for {name}\n", target=name, examples=tuple(examples), name=name,
    )


def _add(a: int, b: int) -> int:
    return a + b


def _shout(s: str) -> str:
    return s.upper() + "!"


def _first(xs: list[Any]) -> Any:
    return xs[0]


TOY_FUNCTIONS: dict[str, Callable[..., Any]] = {"add": _add, "shout": _shout, "first": _first}
TOY_SOLUTIONS: dict[str, str] = {
    "builtin/annotated/add": "def add(a, b):\n    return a + b",
    "builtin/annotated/shout": "def shout(s):\n    return s.upper() + '!'",
    "builtin/annotated/first": "def first(xs):\n    return xs[0]",
}


def toy_problems() -> list[HiddenFunction]:
    """Three small problems with 10 examples each (one example of ``first`` raises)."""
    return [
        toy_function("add", _add, [(i, 2 * i - 3) for i in range(10)], index=0),
        toy_function("shout", _shout, [(w,) for w in ["a", "bc", "def", "x", "yz", "hey", "ok", "no", "hi", "é"]],
                     index=1),
        toy_function("first", _first, [([i, i + 1],) for i in range(9)] + [([],)], index=2),
    ]


def toy_env_kwargs() -> dict[str, Any]:
    """Keyword arguments for CodeARCEnv that play the toy problems with the doubles above."""
    return {
        "problems": toy_problems(),
        "reference_sandbox": CallableSandbox(TOY_FUNCTIONS),
        "candidate_sandbox": CallableSandbox(TOY_FUNCTIONS),
        "oracle": TableOracle({k: [v] for k, v in TOY_SOLUTIONS.items()}),
    }


def make_toy_env(**kwargs: Any) -> Any:
    """A CodeARCEnv over the toy problems with fresh doubles (an entry point for tests)."""
    from codearc_env.env import CodeARCEnv

    return CodeARCEnv(**{**toy_env_kwargs(), **kwargs})


def play_episode(
    env_id: str | None = None,
    actions: Sequence[dict[str, Any]] = (),
    seed: int = 0,
    options: dict[str, Any] | None = None,
    **make_kwargs: Any,
) -> list[tuple[float, bool, bool, str]]:
    """Play ``actions`` in a fresh env and return (reward, terminated, truncated, feedback) per
    step. Module-level so that a spawned process can run it; ``env_id=None`` plays the toys."""
    import gymnasium

    env = gymnasium.make(env_id, **make_kwargs) if env_id else make_toy_env(**make_kwargs)
    try:
        env.reset(seed=seed, options=options)
        out = []
        for action in actions:
            obs, reward, terminated, truncated, _ = env.step(action)
            out.append((float(reward), bool(terminated), bool(truncated), obs["feedback"]))
            if terminated or truncated:
                break
        return out
    finally:
        env.close()


def live_descendants(pid: int | None = None) -> set[int]:
    """Pids of the live (non-zombie) descendants of ``pid`` (default: this process), from /proc.

    Used by leak checks: after ``close()`` nothing an env started may still run.
    """
    import os

    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(entry))
    out: set[int] = set()
    todo = [os.getpid() if pid is None else pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out
