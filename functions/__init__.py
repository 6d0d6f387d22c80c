"""The hidden target functions: specs, loaders, quirk detection, splits and the built-in suite.

Importing this package reads no data and touches no network (standard library only).
"""

from __future__ import annotations

# builtin_suite is both a module and a function: importing the function here, once, keeps
# the package attribute bound to the function.
from codearc_env.functions.builtin_suite import builtin_suite
from codearc_env.functions.dataset import Dataset, UnknownProblemError
from codearc_env.functions.source import load_dataset, load_problem, load_problem_by_id
from codearc_env.functions.spec import VARIANTS, Comparison, Example, HiddenFunction, Quirks

__all__ = [
    "VARIANTS",
    "Comparison",
    "Dataset",
    "Example",
    "HiddenFunction",
    "Quirks",
    "UnknownProblemError",
    "builtin_suite",
    "load_dataset",
    "load_problem",
    "load_problem_by_id",
]
