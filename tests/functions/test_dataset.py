"""The Dataset API: lookup, ids, splits, sources, and lazily parsed examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from codearc_env.errors import DataError
from codearc_env.functions import Dataset, UnknownProblemError, load_dataset
from codearc_env.functions.calls import ParsedCall
from codearc_env.functions.dataset import SOURCE_RANGES, source_of


@pytest.fixture(scope="module")
def ds(synthetic_jsonl: Path) -> Dataset:
    return load_dataset(synthetic_jsonl)


def test_lookup_by_variant_index_and_id(ds: Dataset) -> None:
    fn = ds.get("annotated", 12)
    assert (fn.index, fn.variant, fn.source, fn.target) == (12, "annotated", "humaneval+", "add_12")
    assert fn.problem_id == "annotated/12"
    assert ds.by_id("annotated/12") is fn
    anon = ds.by_id("anonymized/300")
    assert (anon.target, anon.source) == ("solution", "apps")
    assert ds.by_id("anonymous/300") is anon  # upstream spelling accepted
    assert ds.by_id(anon.problem_id) is anon


def test_examples_are_parsed_with_the_prefix_stripped(ds: Dataset) -> None:
    fn = ds.get("annotated", 5)
    ex = fn.examples[3]
    assert ex.call_text == "print('Result 4: ' + str(add_5(3)))"
    assert ex.call == ParsedCall(name="add_5", args=(3,), kwargs=(), text="add_5(3)")
    assert ex.expression == "add_5(3)"
    assert (ex.output, ex.errored, ex.timed_out) == ("8", False, False)
    assert [e.k for e in fn.examples] == list(range(10))


def test_unknown_problems_raise_a_clear_error(ds: Dataset) -> None:
    with pytest.raises(UnknownProblemError) as info:
        ds.get("annotated", 1114)
    assert str(info.value) == "no problem annotated/1114 in the dataset"
    assert isinstance(info.value, KeyError) and isinstance(info.value, DataError)
    with pytest.raises(DataError, match="unknown variant 'plain'"):
        ds.get("plain", 1)
    with pytest.raises(UnknownProblemError, match="bad problem id 'annotated-3'"):
        ds.by_id("annotated-3")
    with pytest.raises(UnknownProblemError, match="no built-in function named 'nope'"):
        ds.by_id("builtin/annotated/nope")


def test_splits_partition_by_source_and_clean_excludes_quirks(ds: Dataset) -> None:
    assert ds.splits() == ("all", "clean", "humaneval+", "mbpp+", "apps", "builtin")
    for variant in ("annotated", "anonymized"):
        sizes = {name: len(ds.split_indices(name, variant)) for name, _ in SOURCE_RANGES}
        assert sizes == {"humaneval+": 78, "mbpp+": 131, "apps": 905}
        assert len(ds.split("all", variant)) == 1114
        assert len(ds.split("clean", variant)) == 1114  # synthetic data has no quirks
    assert [f.index for f in ds.split("mbpp+", "anonymized")][:2] == [78, 79]
    builtin = ds.split("builtin", "anonymized")
    assert builtin and all(f.source == "builtin" for f in builtin)
    assert ds.by_id(builtin[0].problem_id) == builtin[0]
    with pytest.raises(DataError, match="unknown split 'dirty'"):
        ds.split("dirty")


def test_len_and_iteration_cover_both_variants(ds: Dataset) -> None:
    assert len(ds) == 2228
    ids = [f.problem_id for f in ds]
    assert len(ids) == len(set(ids)) == 2228
    assert ids[0] == "annotated/0" and ids[-1] == "anonymized/1113"


def test_source_ranges() -> None:
    assert [source_of(i) for i in (0, 77, 78, 208, 209, 1113)] == [
        "humaneval+",
        "humaneval+",
        "mbpp+",
        "mbpp+",
        "apps",
        "apps",
    ]
    with pytest.raises(UnknownProblemError, match="no problem index 1114"):
        source_of(1114)
