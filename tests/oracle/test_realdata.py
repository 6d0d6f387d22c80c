"""On the real benchmark: the other variant's implementation, renamed, passes the oracle."""

from __future__ import annotations

import pytest

from codearc_env.functions import load_dataset
from codearc_env.oracle import Oracle

pytestmark = pytest.mark.realdata


def renamed(code: str, old: str, new: str) -> str:
    """Bind ``new`` to the other variant's target, keeping its helpers (nothing is renamed)."""
    return f"{code}\n\n{new} = {old}\n"


def test_other_variant_passes_on_the_first_clean_problems(boxes, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    dataset = load_dataset(data_dir, allow_download=False)
    oracle = Oracle(*boxes, strength="tiny", cache_dir=tmp_path)
    checked = 0
    for fn in dataset.split("clean", "annotated")[:3]:
        other = dataset.get("anonymized", fn.index)
        verdict = oracle.check(fn, renamed(other.code, other.target, fn.target))
        assert verdict.passed, (fn.problem_id, verdict.reason)
        checked += 1
    assert checked == 3


def test_a_wrong_candidate_fails_on_real_problems(boxes, tmp_path, data_dir) -> None:  # type: ignore[no-untyped-def]
    dataset = load_dataset(data_dir, allow_download=False)
    fn = dataset.split("clean", "annotated")[0]
    v = Oracle(*boxes, strength="tiny", cache_dir=tmp_path).check(
        fn, f"def {fn.target}(*args, **kwargs):\n    return None\n"
    )
    assert not v.passed and v.counterexample is not None
