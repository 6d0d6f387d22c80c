"""Both local layouts load to the same problems; bad input fails with a clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from codearc_env.errors import DataError
from codearc_env.functions.dataset import Dataset
from codearc_env.functions.loaders import detect_layout, load_directory, load_jsonl, load_upstream
from codearc_env.functions.raw import RawProblem


def test_jsonl_and_upstream_layouts_load_the_same_problems(
    synthetic: list[RawProblem], synthetic_jsonl: Path, synthetic_upstream: Path
) -> None:
    from_jsonl = load_jsonl(synthetic_jsonl)
    from_upstream = load_upstream(synthetic_upstream)
    strip = [(p.variant, p.index, p.code, p.examples) for p in synthetic]
    assert [(p.variant, p.index, p.code, p.examples) for p in from_jsonl] == strip
    assert [(p.variant, p.index, p.code, p.examples) for p in from_upstream] == strip


def test_layout_is_detected(
    synthetic_jsonl: Path, synthetic_upstream: Path, tmp_path: Path
) -> None:
    assert detect_layout(synthetic_jsonl) == ("jsonl", synthetic_jsonl)
    assert detect_layout(synthetic_upstream) == ("upstream", synthetic_upstream)
    # an unpacked source archive: one top folder holding the repository
    unpacked = tmp_path / "unpacked"
    shutil.copytree(synthetic_upstream, unpacked / "CodeARC-092edee")
    assert detect_layout(unpacked) == ("upstream", unpacked / "CodeARC-092edee")
    assert len(load_directory(unpacked)) == 2228


def test_wrong_layout_directory_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(DataError) as info:
        detect_layout(tmp_path)
    assert str(info.value) == (
        f"{tmp_path} is not a CodeARC data directory: expected problems.jsonl and "
        "invocations.jsonl (JSON Lines form), or dataset/ and prompt_invocations/ "
        "(upstream repository layout)"
    )
    with pytest.raises(DataError, match="data directory not found: "):
        detect_layout(tmp_path / "missing")


def _copy_jsonl(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _rewrite_line(path: Path, lineno: int, text: str | None) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if text is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = text
    path.write_text("".join(lines), encoding="utf-8")


def test_corrupt_jsonl_line_names_file_and_line(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    _rewrite_line(root / "invocations.jsonl", 5, '{"index": 0, "variant": \n')
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert str(info.value) == (
        f"{root / 'invocations.jsonl'} line 5: not valid JSON (Expecting value)"
    )


def test_truncated_jsonl_file_names_the_last_line(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    path = root / "problems.jsonl"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 20])  # cut inside the last row
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert str(info.value).startswith(f"{path} line 2228: not valid JSON (")


def test_wrong_field_type_names_file_line_and_field(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    row = {"index": "3", "variant": "annotated", "code": "def f(): pass\n"}
    _rewrite_line(root / "problems.jsonl", 4, json.dumps(row) + "\n")
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert (
        str(info.value) == f"{root / 'problems.jsonl'} line 4: field 'index' must be int, got '3'"
    )


def test_missing_problem_index_is_named(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    _rewrite_line(root / "problems.jsonl", 8, None)  # annotated/7
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert str(info.value) == "variant 'annotated': missing problem index 7 (1 missing of 1114)"


def test_missing_example_is_named(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    _rewrite_line(root / "invocations.jsonl", 12, None)  # annotated/1 k=1
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert str(info.value) == (
        f"{root / 'invocations.jsonl'} line 11: problem annotated/1 has examples "
        "k=[0, 2, 3, 4, 5, 6, 7, 8, 9], expected k=0..9"
    )


def test_duplicate_row_is_an_error(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    path = root / "problems.jsonl"
    first = path.read_text(encoding="utf-8").splitlines(keepends=True)[0]
    with path.open("a", encoding="utf-8") as fh:
        fh.write(first)
    with pytest.raises(DataError) as info:
        load_jsonl(root)
    assert str(info.value) == f"{path} line 2229: duplicate problem annotated/0"


def test_unknown_variant_is_an_error(synthetic_jsonl: Path, tmp_path: Path) -> None:
    root = _copy_jsonl(synthetic_jsonl, tmp_path / "d")
    row = {"index": 0, "variant": "plain", "code": "def f(): pass\n"}
    _rewrite_line(root / "problems.jsonl", 1, json.dumps(row) + "\n")
    with pytest.raises(DataError, match=r"problems.jsonl line 1: unknown variant 'plain'"):
        load_jsonl(root)


def test_module_that_does_not_parse_fails_the_whole_load(
    synthetic: list[RawProblem], datafiles: SimpleNamespace, tmp_path: Path
) -> None:
    broken = list(synthetic)
    p = broken[40]
    broken[40] = RawProblem(p.variant, p.index, "def add_40(x:\n", p.examples, p.origin)
    root = datafiles.write_jsonl(broken, tmp_path / "d")
    with pytest.raises(DataError) as info:
        Dataset(load_jsonl(root))
    assert str(info.value) == (
        f"{root / 'problems.jsonl'} line 41 (annotated/40): module does not parse: "
        "'(' was never closed (line 1)"
    )


def test_output_without_result_prefix_is_an_error(
    synthetic: list[RawProblem], datafiles: SimpleNamespace, tmp_path: Path
) -> None:
    broken = list(synthetic)
    p = broken[3]
    bad = p.examples[2].__class__(k=2, input=p.examples[2].input, output="5", errored=False)
    broken[3] = RawProblem(p.variant, p.index, p.code, (*p.examples[:2], bad, *p.examples[3:]), "")
    root = datafiles.write_upstream(broken, tmp_path / "u")
    with pytest.raises(DataError) as info:
        Dataset(load_upstream(root))
    assert str(info.value) == (
        f"{root / 'dataset' / 'annotated' / '3.py'} (annotated/3): example k=2 output does "
        "not start with 'Result 3:'"
    )


def test_upstream_missing_file_and_bad_json(synthetic_upstream: Path, tmp_path: Path) -> None:
    root = tmp_path / "u"
    shutil.copytree(synthetic_upstream, root)
    (root / "dataset" / "anonymous" / "1113.py").unlink()
    with pytest.raises(DataError) as info:
        load_upstream(root)
    assert str(info.value) == "variant 'anonymized': missing problem index 1113 (1 missing of 1114)"

    shutil.rmtree(root)
    shutil.copytree(synthetic_upstream, root)
    inv = root / "prompt_invocations" / "annotated" / "num_invocations=10/llm/invocations.json"
    inv.write_text(inv.read_text()[:100])
    with pytest.raises(DataError, match=r"invocations.json line \d+: not valid JSON"):
        load_upstream(root)

    shutil.rmtree(root / "prompt_invocations")
    with pytest.raises(DataError, match="wrong layout: missing file .*invocations.json"):
        load_upstream(root)


def test_upstream_unexpected_file_name(synthetic_upstream: Path, tmp_path: Path) -> None:
    root = tmp_path / "u"
    shutil.copytree(synthetic_upstream, root)
    (root / "dataset" / "annotated" / "07.py").write_text("def f(): pass\n")
    with pytest.raises(DataError, match=r"07.py: unexpected file name \(expected <index>.py\)"):
        load_upstream(root)
