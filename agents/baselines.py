"""Agents without a reasoning loop: the ground truth, and an examples-only baseline."""

from __future__ import annotations

import ast
from collections.abc import Sequence

from codearc_env.agents.episode import Episode, EpisodeOver
from codearc_env.agents.model import Model
from codearc_env.agents.parsing import extract_code
from codearc_env.agents.prompts import render
from codearc_env.errors import CallParseError, CodeARCError
from codearc_env.functions.calls import parse_call

MAX_TABLE_OUTPUT_CHARS = 10_000
"""Examples with longer outputs are left out of the lookup table (submissions are capped)."""


class GroundTruthAgent:
    """Submits the hidden module itself: every correct harness must grade it a success."""

    name = "ground-truth"

    def play(self, ep: Episode) -> None:
        if ep.problem is None:
            raise CodeARCError(
                f"the ground-truth agent needs the hidden function of {ep.problem_id}"
            )
        ep.submit(ep.problem.code)


class ExamplesOnlyAgent:
    """Never queries. With a model: asks it once for a program. Without: submits a table.

    The table maps each example's literal arguments to its output (parsed back to a value
    when the text is a Python literal) and returns None elsewhere: a floor, not a solver.
    """

    name = "examples-only"

    def __init__(self, model: Model | None = None) -> None:
        self.model = model

    def play(self, ep: Episode) -> None:
        if self.model is None:
            ep.submit(
                lookup_table_program(
                    ep.target,
                    ep.obs.get("calls", ()),
                    ep.obs.get("outputs", ()),
                    ep.obs.get("errored", ()),
                )
            )
            return
        prompt = render("examples_once.md", name=ep.target, examples=ep.obs.get("examples", ""))
        ep.say("user", prompt)
        reply = self.model.complete([{"role": "user", "content": prompt}])
        ep.heard(reply)
        code = extract_code(reply.content)
        if not code.strip():
            ep.invalid_reply("the reply holds no program")
            raise EpisodeOver("the model gave no program")
        ep.submit(code)


def _value_literal(output: str) -> str:
    try:
        value = ast.literal_eval(output)
        text = repr(value)
        ast.literal_eval(text)  # only values whose repr reads back (no nan/inf, no objects)
        return text
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return repr(output)


def lookup_table_program(
    target: str, calls: Sequence[str], outputs: Sequence[str], errored: Sequence[int]
) -> str:
    """Python source defining ``target`` as a lookup table of the examples (built on the host
    from parsed literals only; nothing is evaluated)."""
    rows = []
    for call, output, err in zip(calls, outputs, errored, strict=False):
        if len(output) > MAX_TABLE_OUTPUT_CHARS:
            continue
        try:
            parsed = parse_call(call, target)
        except CallParseError:
            continue
        key = repr((tuple(parsed.args), sorted(parsed.kwargs)))
        value = f"Exception({output!r})" if err else _value_literal(output)
        rows.append(f"    {key!r}: ({bool(err)!r}, {value}),")
    body = "\n".join(rows)
    return (
        f"_TABLE = {{\n{body}\n}}\n\n\n"
        f"def {target}(*args, **kwargs):\n"
        f"    errored, value = _TABLE.get(repr((args, sorted(kwargs.items()))), (False, None))\n"
        f"    if errored:\n"
        f"        raise value\n"
        f"    return value\n"
    )
