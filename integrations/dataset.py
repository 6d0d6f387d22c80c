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
from codearc_env.config import DEFAULT_CONFIG, EnvConfig
from codearc_env.functions.spec import HiddenFunction
from codearc_env.problems import ProblemSet, load_problems
from codearc_env.protocol import EpisodeState
from codearc_env.query import initial_pairs
from codearc_env.render import observation

PROMPT, PROBLEM_ID = "prompt", "problem_id"
"""The columns :class:`codearc_env.integrations.trl.CodeARCToolEnv` reads."""


def problem_rows(
    variant: str = "annotated",
    split: str = "all",
    *,
    repeats: int = 1,
    config: EnvConfig | None = None,
    b_io: int | None = None,
    b_oracle: int | None = None,
    data_dir: str | Path | None = None,
    problems: Sequence[HiddenFunction] | None = None,
) -> list[dict[str, Any]]:
    """The rows of :func:`problems_dataset` as plain dicts (no ``datasets`` needed).

    The budgets must be the environment's: the system prompt states them, and the adapter's
    ``reset`` refuses a row whose system prompt differs from its own. Give the dataset and
    the adapter the same ``config`` (:class:`~codearc_env.config.EnvConfig`; ``b_io`` and
    ``b_oracle`` replace its budgets). Building rows runs no code: each row's prompt is made
    from the first observation of its episode, as ``reset`` would return it.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    budgets = (config or DEFAULT_CONFIG).with_overrides(b_io=b_io, b_oracle=b_oracle)
    if problems is not None:
        problem_set = ProblemSet.of(problems, "the given problems")
    else:
        problem_set = load_problems(variant, split, data_dir)
    rows = []
    for problem_id in problem_set.ids:
        fn = problem_set.get(problem_id)
        pairs = initial_pairs(fn)
        first = observation(EpisodeState(budgets, n_initial=len(pairs)), fn.target, pairs, "")
        prompt = [
            {"role": "system", "content": system_prompt(first)},
            {"role": "user", "content": ""},
        ]
        rows += [{PROMPT: prompt, PROBLEM_ID: problem_id} for _ in range(repeats)]
    return rows


def problems_dataset(*args: Any, **kwargs: Any) -> Any:
    """A ``datasets.Dataset`` of :func:`problem_rows`, for ``GRPOTrainer(train_dataset=...)``;
    takes the arguments of :func:`problem_rows`.

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
    return Dataset.from_list(problem_rows(*args, **kwargs))
