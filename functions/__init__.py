"""The hidden target functions: specs, loaders, quirk detection, splits and the built-in suite.

Importing this package reads no data and touches no network; the loaders import on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from codearc_env.functions.spec import VARIANTS, Comparison, Example, HiddenFunction, Quirks

if TYPE_CHECKING:
    from codearc_env.functions.builtin_suite import builtin_suite
    from codearc_env.functions.dataset import Dataset, UnknownProblemError
    from codearc_env.functions.source import load_dataset

_LAZY = {
    "builtin_suite": "codearc_env.functions.builtin_suite",
    "Dataset": "codearc_env.functions.dataset",
    "UnknownProblemError": "codearc_env.functions.dataset",
    "load_dataset": "codearc_env.functions.source",
}

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
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'codearc_env.functions' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
