"""Training rows: one per problem (and repeat), with the columns the TRL adapter reads.

A row is ``{"prompt": [system message, empty user message], "problem_id": ...}``. TRL's
GRPOTrainer passes the whole row to the environment's ``reset``, which starts that problem and
returns the first user message; TRL appends it to the row's empty user message. The result is
the conversation the evaluation agent opens with, byte for byte.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codearc_env.agents.vocabulary import system_prompt
from codearc_env.env import CodeARCEnv
from codearc_env.functions.spec import HiddenFunction
from codearc_env.sandbox.base import BackendInfo, CallResult, Invocation, Limits, Sandbox

PROMPT, PROBLEM_ID = "prompt", "problem_id"
"""The columns :class:`codearc_env.integrations.trl.CodeARCToolEnv` reads."""


class _NoSandbox(Sandbox):
    """Stands in for both sandboxes while rows are built: resetting runs no code."""

    name = "none"

    def start(self) -> None:
        raise RuntimeError("building training rows never runs code")

    def close(self) -> None:
        pass

    def run(
        self,
        source: str,
        function: str,
        invocations: Sequence[Invocation],
        limits: Limits | None = None,
        *,
        isolation: str = "call",
    ) -> list[CallResult]:
        raise RuntimeError("building training rows never runs code")

    def info(self) -> BackendInfo:
        return BackendInfo(self.name, is_security_boundary=False)


def problem_rows(
    variant: str = "annotated",
    split: str = "all",
    *,
    repeats: int = 1,
    b_io: int = 30,
    b_oracle: int = 2,
    data_dir: str | Path | None = None,
    problems: Sequence[HiddenFunction] | None = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`problems_dataset` as plain dicts (no ``datasets`` needed).

    ``b_io`` and ``b_oracle`` must be the environment's: the system prompt states them, and
    the adapter's ``reset`` refuses a row whose system prompt differs from its own.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    unused = _NoSandbox()
    env = CodeARCEnv(
        variant,
        split,
        data_dir=data_dir,
        b_io=b_io,
        b_oracle=b_oracle,
        problems=problems,
        reference_sandbox=unused,
        candidate_sandbox=unused,
        oracle=unused,  # never called: no step is taken
    )
    rows = []
    for problem_id in env.problem_set.ids:
        obs, _ = env.reset(options={"problem": problem_id})
        prompt = [
            {"role": "system", "content": system_prompt(obs)},
            {"role": "user", "content": ""},
        ]
        rows += [{PROMPT: prompt, PROBLEM_ID: problem_id} for _ in range(repeats)]
    env.close()
    return rows


def problems_dataset(
    variant: str = "annotated",
    split: str = "all",
    *,
    repeats: int = 1,
    b_io: int = 30,
    b_oracle: int = 2,
    data_dir: str | Path | None = None,
    problems: Sequence[HiddenFunction] | None = None,
) -> Any:
    """A ``datasets.Dataset`` of :func:`problem_rows`, for ``GRPOTrainer(train_dataset=...)``.

    Each problem appears ``repeats`` times in a row (problem order of the split). GRPOTrainer
    already samples ``num_generations`` completions per row, so ``repeats`` only sets how
    often a problem comes back within one pass over the dataset.
    """
    try:
        from datasets import Dataset
    except ImportError as exc:
        raise ImportError(
            "problems_dataset needs the datasets package (pip install datasets); "
            "problem_rows gives the same rows as plain dicts"
        ) from exc
    rows = problem_rows(
        variant,
        split,
        repeats=repeats,
        b_io=b_io,
        b_oracle=b_oracle,
        data_dir=data_dir,
        problems=problems,
    )
    return Dataset.from_list(rows)
