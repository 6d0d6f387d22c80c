"""Choose the data source and load the dataset, or one problem: argument, environment, cache,
download."""

from __future__ import annotations

import os
from pathlib import Path

from codearc_env.errors import DataUnavailableError
from codearc_env.functions.dataset import (
    Dataset,
    UnknownProblemError,
    build_problem,
    normalize_variant,
    problem_by_id,
)
from codearc_env.functions.loaders import load_directory, load_one
from codearc_env.functions.raw import EXPECTED_PROBLEMS
from codearc_env.functions.spec import HiddenFunction

DATA_DIR_ENV = "CODEARC_DATA_DIR"


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None = None, *, allow_download: bool = True
) -> Path:
    """The directory to load: ``data_dir``, ``$CODEARC_DATA_DIR``, the cache, else a download."""
    if data_dir is not None:
        return Path(data_dir)
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env)
    # imported only now: the network and archive modules cost a named directory start-up time
    from codearc_env.functions import download

    cached = download.cached_data_dir()
    if cached is not None:
        return cached
    if not allow_download:
        raise DataUnavailableError(
            f"no CodeARC data: none given, none in the cache ({download.cache_dir()}), and "
            f"downloading is disabled. {download.offline_hint()}"
        )
    return download.download_dataset()


def load_dataset(
    data_dir: str | os.PathLike[str] | None = None, *, allow_download: bool = True
) -> Dataset:
    """Load both variants of all 1114 problems (see :func:`resolve_data_dir` for the source)."""
    path = resolve_data_dir(data_dir, allow_download=allow_download)
    return Dataset(load_directory(path), origin=str(path))


def load_problem(
    variant: str,
    index: int,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    allow_download: bool = True,
) -> HiddenFunction:
    """One problem, equal to ``load_dataset(data_dir).get(variant, index)``, without reading
    the other 2227: only that problem's data is parsed and checked."""
    v = normalize_variant(variant)
    if not 0 <= index < EXPECTED_PROBLEMS:
        raise UnknownProblemError(f"no problem {v}/{index}: indices run 0..{EXPECTED_PROBLEMS - 1}")
    path = resolve_data_dir(data_dir, allow_download=allow_download)
    return build_problem(load_one(path, v, index))


def load_problem_by_id(
    problem_id: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    allow_download: bool = True,
) -> HiddenFunction:
    """One problem by id, as :meth:`Dataset.by_id` reads it (a built-in one needs no data)."""
    return problem_by_id(
        problem_id, lambda v, i: load_problem(v, i, data_dir, allow_download=allow_download)
    )
