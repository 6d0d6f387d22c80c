"""On the real data, one problem loaded alone equals the full loader's, edge problems included.

The problems compared are chosen here from the loaded data (no list of indices is kept): the
ends of each source range, and in each variant the first and last problem with each quirk, a
helper defined before the target, and the largest stored output.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from codearc_env.functions import Dataset, HiddenFunction, load_dataset, load_problem
from codearc_env.functions.dataset import SOURCE_RANGES

pytestmark = [
    pytest.mark.realdata,
    # hidden modules hold invalid escapes such as "\\d"; parsing them here warns
    pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::SyntaxWarning"),
]


def _has_helper(fn: HiddenFunction) -> bool:
    defs = [n for n in ast.parse(fn.code).body if isinstance(n, ast.FunctionDef)]
    return len(defs) > 1 and defs[0].name != fn.target


QUIRKS = (
    "ill_posed",
    "invalid_calls",
    "nondeterministic",
    "large_output",
    "errored_examples",
    "timed_out_examples",
)
"""The quirk flags whose first and last problem of each variant are compared."""


def _edge_problems(real: Dataset) -> dict[str, set[tuple[str, int]]]:
    chosen: dict[str, set[tuple[str, int]]] = {}
    for variant in ("annotated", "anonymized"):
        fns = [real.get(variant, i) for i in real.split_indices("all", variant)]
        for _, indices in SOURCE_RANGES:
            chosen.setdefault("range end", set()).update(
                {(variant, indices[0]), (variant, indices[-1])}
            )
        tests = {name: (lambda fn, n=name: bool(getattr(fn.quirks, n))) for name in QUIRKS}
        tests["helper before target"] = _has_helper
        for name, has in tests.items():
            hits = [fn.index for fn in fns if has(fn)]
            if hits:
                chosen.setdefault(name, set()).update({(variant, hits[0]), (variant, hits[-1])})
        largest = max(fns, key=lambda fn: max(len(e.output) for e in fn.examples))
        chosen.setdefault("largest output", set()).add((variant, largest.index))
    return chosen


def test_one_problem_equals_the_full_loaders_on_edge_problems(data_dir: Path) -> None:
    real = load_dataset(data_dir)
    chosen = _edge_problems(real)
    # every kind of edge occurs in the real data (else this test would compare less)
    assert set(chosen) == {"range end", *QUIRKS, "helper before target", "largest output"}
    for name, problems in chosen.items():
        for variant, index in sorted(problems):
            alone = load_problem(variant, index, data_dir)
            assert alone == real.get(variant, index), (name, variant, index)
            assert alone.quirks == real.quirks(variant, index)
