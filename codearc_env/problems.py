"""Which problems an environment draws from, and how an id or index names one of them.

A split is held as a list of problem ids; a problem is built only when it is drawn, so an env
over all 1114 problems starts fast.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from codearc_env.errors import DataError
from codearc_env.functions.spec import VARIANTS, HiddenFunction

BUILTIN_SPLIT = "builtin"


@functools.lru_cache(maxsize=4)
def _dataset(data_dir: str | None, allow_download: bool, env_dir: str | None) -> Any:
    """One loaded dataset per source per process: envs of a SyncVectorEnv share it.

    ``env_dir`` ($CODEARC_DATA_DIR) is part of the key because it changes where None points.
    """
    from codearc_env.functions import load_dataset

    return load_dataset(data_dir, allow_download=allow_download)


class ProblemSet:
    """An ordered list of problem ids (one split of one variant) with lookup by id or index.

    ``resolve`` builds a problem from an id; ids outside the list are resolved too (so an
    explicit ``options={"problem": ...}`` may name any problem of the loaded data).
    """

    def __init__(
        self,
        ids: Sequence[str],
        resolve: Callable[[str], HiddenFunction],
        description: str,
        variant: str,
    ) -> None:
        from codearc_env.functions import UnknownProblemError

        if not ids:
            raise UnknownProblemError(f"{description} holds no problems")
        self.ids = tuple(ids)
        self.description = description
        self.variant = variant
        self._resolve = resolve

    @classmethod
    def of(cls, problems: Sequence[HiddenFunction], description: str) -> ProblemSet:
        """A set over problems already in memory."""
        table = {p.problem_id: p for p in problems}

        def resolve(problem_id: str) -> HiddenFunction:
            from codearc_env.functions import UnknownProblemError

            try:
                return table[problem_id]
            except KeyError:
                raise UnknownProblemError(f"no problem {problem_id!r} in {description}") from None

        variant = problems[0].variant if problems else "annotated"
        return cls(list(table), resolve, description, variant)

    def __len__(self) -> int:
        return len(self.ids)

    def get(self, key: str | int) -> HiddenFunction:
        """A problem by id (``"annotated/12"``, ``"builtin/annotated/add"``) or by index."""
        from codearc_env.functions import UnknownProblemError

        if isinstance(key, bool) or not isinstance(key, str | int | np.integer):
            raise UnknownProblemError(
                f"a problem is named by its id (str) or index (int), not {type(key).__name__}"
            )
        if not isinstance(key, str):
            index = int(key)
            benchmark_id = f"{self.variant}/{index}"
            if benchmark_id in self.ids or not self.ids[0].startswith("builtin/"):
                return self._resolve(benchmark_id)
            for problem_id in self.ids:
                fn = self._resolve(problem_id)
                if fn.index == index:
                    return fn
            raise UnknownProblemError(f"no problem with index {index} in {self.description}")
        return self._resolve(key)

    def draw(self, rng: np.random.Generator) -> HiddenFunction:
        return self._resolve(self.ids[int(rng.integers(len(self.ids)))])


def load_problems(
    variant: str, split: str, data_dir: str | Path | None = None, *, allow_download: bool = True
) -> ProblemSet:
    """The problems of ``split`` in ``variant``: the built-in suite offline, else the dataset."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, not {variant!r}")
    if not isinstance(split, str):
        raise TypeError(f"split must be a str, not {type(split).__name__}")
    if split == BUILTIN_SPLIT:
        from codearc_env.functions import builtin_suite

        return ProblemSet.of(builtin_suite(variant), f"the built-in suite ({variant})")
    dataset = _dataset(str(data_dir) if data_dir is not None else None, allow_download,
                       os.environ.get("CODEARC_DATA_DIR"))
    indices = dataset.split_indices(split, variant)  # DataError names the known splits
    if not indices:
        raise DataError(f"split {split!r} of the {variant} problems is empty")
    ids = [f"{variant}/{i}" for i in indices]
    return ProblemSet(ids, dataset.by_id, f"split {split!r} of the {variant} problems", variant)
