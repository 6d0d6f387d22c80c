"""Toy problems for agent and runner tests: many tiny functions with trusted doubles.

Shared by the tests (through conftest.py) and by kill_target.py, which a test runs in a
subprocess and kills. Nothing here runs model text: the doubles call trusted callables.
"""

from __future__ import annotations

import re
from typing import Any

from codearc_env.env import CodeARCEnv
from codearc_env.testing import CallableSandbox, TableOracle, toy_function


def _adder(k: int) -> Any:
    def add(a: int, b: int) -> int:
        return a + b + k

    return add


def toy_suite(n: int = 12) -> tuple[list[Any], dict[str, Any], dict[str, list[str]]]:
    """``n`` problems ``add0 .. add{n-1}`` (add{k}(a, b) = a + b + k), their callables, and
    the accepted solution of each (the oracle double accepts exactly that text)."""
    funcs = {f"add{k}": _adder(k) for k in range(n)}
    problems = [
        toy_function(name, fn, [(i, 2 * i - 3) for i in range(10)], index=k)
        for k, (name, fn) in enumerate(funcs.items())
    ]
    accepted = {p.problem_id: [solution(p.target, k)] for k, p in enumerate(problems)}
    return problems, funcs, accepted


def solution(name: str, k: int) -> str:
    return f"def {name}(a, b):\n    return a + b + {k}"


def make_env(n: int = 12, **kwargs: Any) -> CodeARCEnv:
    problems, funcs, accepted = toy_suite(n)
    return CodeARCEnv(
        problems=problems,
        reference_sandbox=CallableSandbox(funcs),
        candidate_sandbox=CallableSandbox(funcs),
        oracle=TableOracle(accepted),
        **kwargs,
    )


def solving_script(messages: list[dict[str, Any]], tools: Any) -> Any:
    """A scripted step for the react agent: query once, then submit the right program."""
    from codearc_env.agents.scripted import tool_reply

    name = target_of(messages)
    k = int(name[3:])
    if not any(m.get("role") == "tool" for m in messages):
        return tool_reply(("query", {"calls": f"{name}(100, 1)"}))
    return tool_reply(("submit", {"code": solution(name, k)}))


def target_of(messages: list[dict[str, Any]]) -> str:
    """The toy function a conversation is about (every toy is named ``add<k>``)."""
    for m in messages:
        found = re.search(r"\badd\d+\b", m.get("content") or "")
        if found:
            return found.group(0)
    raise ValueError("no toy function name in the conversation")


# ---- models named on the command line (``--model py:toys:<factory>``) ----------------------
def solving_model(**kwargs: Any) -> Any:
    """Solves every toy problem; ``name=`` renames it (to test published-model lookup)."""
    from codearc_env.agents.scripted import ScriptedModel

    return ScriptedModel([solving_script], repeat_last=True, name=kwargs.get("name", "toy/solver"))


def switchable_model(**kwargs: Any) -> Any:
    """Down (a retryable API error) while $TOY_MODEL_DOWN is set, else a solver: the same
    settings give different outcomes, as a provider outage does."""
    import os

    from codearc_env.agents.model import ModelError
    from codearc_env.agents.scripted import ScriptedModel

    if os.environ.get("TOY_MODEL_DOWN"):
        return ScriptedModel([ModelError("503 from provider", retryable=True)], name="toy/switch")
    return ScriptedModel([solving_script], repeat_last=True, name="toy/switch")


def invalid_query_model(**kwargs: Any) -> Any:
    """Sends a call the environment cannot parse, forever (what a tiny model does when a
    tool call is forced on it)."""
    from codearc_env.agents.scripted import ScriptedModel, tool_reply

    return ScriptedModel(
        [tool_reply(("query", {"calls": "add0(1,"}))], repeat_last=True, name="toy/invalid"
    )


def newline_model(**kwargs: Any) -> Any:
    """Solves, submitting a program that ends with a newline and a tab-indented line."""
    from codearc_env.agents.scripted import ScriptedModel, tool_reply

    def step(messages: list[dict[str, Any]], tools: Any) -> Any:
        name = target_of(messages)
        return tool_reply(("submit", {"code": solution(name, int(name[3:])) + "\n"}))

    return ScriptedModel([step], repeat_last=True, name="toy/newline")


def broken_factory(**kwargs: Any) -> Any:
    """A model factory with a bug: its ValueError must surface as a bug, not a usage error."""
    raise ValueError("a bug inside the model factory")


def slow_model(**kwargs: Any) -> Any:
    """Answers every turn with a valid query, after ``delay`` seconds (default 0.3)."""
    import time

    from codearc_env.agents.scripted import ScriptedModel, tool_reply

    def step(messages: list[dict[str, Any]], tools: Any) -> Any:
        time.sleep(float(kwargs.get("delay", 0.3)))
        return tool_reply(("query", {"calls": f"{target_of(messages)}(1, 2)"}))

    return ScriptedModel([step], repeat_last=True, name="toy/slow")
