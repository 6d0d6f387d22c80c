"""Loading one problem: equal to the full loader's problem, with clear errors, in both layouts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from codearc_env.errors import DataError
from codearc_env.functions import (
    Dataset,
    UnknownProblemError,
    builtin_suite,
    load_dataset,
    load_problem,
    load_problem_by_id,
)
from codearc_env.functions.loaders import load_jsonl, load_one, load_upstream
from codearc_env.functions.raw import RawExample, RawProblem

CASES = [("annotated", 0), ("annotated", 1113), ("anonymized", 0), ("anonymized", 500)]


@pytest.fixture(scope="module")
def full(synthetic_jsonl: Path) -> Dataset:
    return load_dataset(synthetic_jsonl)


@pytest.mark.parametrize(("variant", "index"), CASES)
def test_one_problem_equals_the_full_loaders_problem(
    full: Dataset, synthetic_jsonl: Path, synthetic_upstream: Path, variant: str, index: int
) -> None:
    assert load_problem(variant, index, synthetic_jsonl) == full.get(variant, index)
    assert load_problem(variant, index, synthetic_upstream) == full.get(variant, index)


def test_raw_problem_matches_both_full_loaders_origin_included(
    synthetic_jsonl: Path, synthetic_upstream: Path
) -> None:
    for root, loader in ((synthetic_jsonl, load_jsonl), (synthetic_upstream, load_upstream)):
        every = {(p.variant, p.index): p for p in loader(root)}
        for variant, index in CASES:
            assert load_one(root, variant, index) == every[(variant, index)]


def test_problem_ids_and_the_anonymous_alias(full: Dataset, synthetic_jsonl: Path) -> None:
    assert load_problem_by_id("anonymized/7", synthetic_jsonl) == full.get("anonymized", 7)
    assert load_problem("anonymous", 7, synthetic_jsonl) == full.get("anonymized", 7)
    builtin = builtin_suite("anonymized")[0]
    # a built-in problem needs no data at all
    assert load_problem_by_id(builtin.problem_id, "/nonexistent") == builtin


def _problem(index: int, code: str) -> RawProblem:
    examples = tuple(
        RawExample(k, f"print('Result {k + 1}: ' + str(f({k})))", f"Result {k + 1}: {k}", False)
        for k in range(10)
    )
    return RawProblem("annotated", index, code, examples, "test")


def test_index_text_inside_a_string_does_not_hide_or_fake_a_row(tmp_path: Path, datafiles) -> None:  # type: ignore[no-untyped-def]
    # problem 3's module mentions "index": 7; problem 7's row comes later in the file
    tricky = 'def f(x):\n    return {"index": 7, "k": 0}.get("index", x)\n'
    root = datafiles.write_jsonl(
        [_problem(3, tricky), _problem(7, "def f(x):\n    return x\n")], tmp_path
    )
    assert load_one(root, "annotated", 3).code == tricky
    assert load_one(root, "annotated", 7).code == "def f(x):\n    return x\n"


def test_rows_with_other_key_order_and_spacing_are_found(tmp_path: Path, datafiles) -> None:  # type: ignore[no-untyped-def]
    root = datafiles.write_jsonl([_problem(3, "def f(x):\n    return x\n")], tmp_path)
    before = load_one(root, "annotated", 3)
    for name in ("problems.jsonl", "invocations.jsonl"):
        rows = [json.loads(line) for line in (root / name).read_text().splitlines()]
        text = "".join(
            json.dumps(dict(reversed(row.items())), separators=(",", ":")) + "\n" for row in rows
        )
        (root / name).write_text(text)
    assert '{"errored":false,' in (root / "invocations.jsonl").read_text()
    assert load_one(root, "annotated", 3) == before


# ----------------------------------------------------------------------------------- errors


def test_an_index_out_of_range_is_unknown_before_any_data_is_read() -> None:
    with pytest.raises(UnknownProblemError) as info:
        load_problem("annotated", 1114, "/nonexistent")
    assert str(info.value) == "no problem annotated/1114: indices run 0..1113"
    with pytest.raises(UnknownProblemError) as info:
        load_problem_by_id("anonymous/2000", "/nonexistent")
    assert str(info.value) == "no problem anonymized/2000: indices run 0..1113"


def test_unknown_variant_and_bad_id(synthetic_jsonl: Path) -> None:
    with pytest.raises(DataError) as info:
        load_problem("typed", 1, synthetic_jsonl)
    assert str(info.value) == "unknown variant 'typed': choose 'annotated' or 'anonymized'"
    with pytest.raises(UnknownProblemError) as info:
        load_problem_by_id("annotated-12", synthetic_jsonl)
    assert str(info.value) == (
        "bad problem id 'annotated-12': expected 'annotated/12', 'anonymized/12' "
        "or 'builtin/<variant>/<name>'"
    )


def test_missing_data_is_a_clear_error(tmp_path: Path, datafiles) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DataError) as info:
        load_problem("annotated", 1, tmp_path / "missing")
    assert str(info.value) == f"data directory not found: {tmp_path / 'missing'}"
    root = datafiles.write_jsonl([_problem(3, "def f(x):\n    return x\n")], tmp_path / "d")
    with pytest.raises(DataError) as info:
        load_problem("annotated", 4, root)
    assert str(info.value) == f"{root / 'problems.jsonl'}: no problem annotated/4"
    (root / "invocations.jsonl").unlink()
    with pytest.raises(DataError) as info:
        load_problem("annotated", 3, root)
    assert str(info.value) == f"missing data file: {root / 'invocations.jsonl'}"


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(edit(lines)), encoding="utf-8")


def test_the_asked_problems_rows_are_checked_like_the_full_loader(
    synthetic_jsonl: Path, tmp_path: Path
) -> None:
    root = shutil.copytree(synthetic_jsonl, tmp_path / "d")
    inv = root / "invocations.jsonl"
    # problem annotated/2 occupies invocation lines 21..30; drop k=4 (line 25)
    _rewrite(inv, lambda lines: lines[:24] + lines[25:])
    for load in (lambda: load_one(root, "annotated", 2), lambda: load_jsonl(root)):
        with pytest.raises(DataError) as info:
            load()
        assert str(info.value) == (
            f"{inv} line 21: problem annotated/2 has examples k=[0, 1, 2, 3, 5, 6, 7, 8, 9], "
            "expected k=0..9"
        )
    _rewrite(inv, lambda lines: lines[:21] + [lines[20]] + lines[21:])  # k=0 twice
    with pytest.raises(DataError) as info:
        load_one(root, "annotated", 2)
    assert str(info.value) == f"{inv} line 22: duplicate example annotated/2 k=0"


def test_a_bad_row_of_the_asked_problem_is_reported_with_its_line(
    synthetic_jsonl: Path, tmp_path: Path
) -> None:
    root = shutil.copytree(synthetic_jsonl, tmp_path / "d")
    problems = root / "problems.jsonl"
    _rewrite(
        problems, lambda lines: lines[:2] + ['{"index": 2, "variant": "annotated"\n'] + lines[3:]
    )
    with pytest.raises(DataError) as info:
        load_one(root, "annotated", 2)
    assert str(info.value) == (f"{problems} line 3: not valid JSON (Expecting ',' delimiter)")
    # an index that is not a number is read, and refused as the full loader refuses it
    _rewrite(
        problems, lambda lines: lines[:2] + ['{"index": "2", "variant": "annotated"}\n'] + lines[3:]
    )
    with pytest.raises(DataError) as info:
        load_one(root, "annotated", 2)
    assert str(info.value) == f"{problems} line 3: field 'index' must be int, got '2'"


def test_rows_of_other_problems_are_not_read(synthetic_jsonl: Path, tmp_path: Path) -> None:
    """The price of reading one problem: a fault in another problem's row goes unnoticed
    (the full loader, and ``codearc data verify``, still report it)."""
    root = shutil.copytree(synthetic_jsonl, tmp_path / "d")
    _rewrite(
        root / "problems.jsonl", lambda lines: lines[:7] + ['{"index": 7, "varia\n'] + lines[8:]
    )
    assert load_one(root, "annotated", 2).index == 2
    with pytest.raises(DataError, match="line 8: not valid JSON"):
        load_jsonl(root)


def test_upstream_layout_errors(synthetic_upstream: Path, tmp_path: Path) -> None:
    root = shutil.copytree(synthetic_upstream, tmp_path / "u")
    (root / "dataset" / "anonymous" / "9.py").unlink()
    with pytest.raises(DataError) as info:
        load_one(root, "anonymized", 9)
    assert str(info.value) == (
        f"variant 'anonymized': missing problem index 9 ({root / 'dataset/anonymous/9.py'})"
    )
    inv = root / "prompt_invocations/annotated/num_invocations=10/llm/invocations.json"
    table = json.loads(inv.read_text())
    del table["4"]
    inv.write_text(json.dumps(table))
    with pytest.raises(DataError) as info:
        load_one(root, "annotated", 4)
    assert str(info.value) == f"{root / 'prompt_invocations'}: no examples for problem annotated/4"
