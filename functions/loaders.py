"""Read raw problems from a local directory: the JSON Lines form or the upstream repository layout.

Both loaders validate everything they read and raise :class:`DataError` naming the file and
the line (or key) at fault; nothing is returned half-loaded. Interpretation (targets, quirks,
parsed calls) happens later, in :mod:`codearc_env.functions.dataset`.

:func:`load_one` reads a single problem: it validates that problem's rows like the full
loaders do, but does not look into the rows of other problems (a JSON Lines row that names
another index is skipped unparsed), so it cannot tell whether the rest of the data is complete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codearc_env.errors import DataError
from codearc_env.functions.raw import (
    EXAMPLES_PER_PROBLEM,
    EXPECTED_PROBLEMS,
    RawExample,
    RawProblem,
)
from codearc_env.functions.spec import UPSTREAM_VARIANT_DIR, VARIANTS, Variant

PROBLEMS_FILE = "problems.jsonl"
INVOCATIONS_FILE = "invocations.jsonl"
INVOCATIONS_SUBPATH = "num_invocations=10/llm/invocations.json"
# Spellings of a variant accepted in data files: ours and upstream's.
_VARIANT_NAMES: dict[str, Variant] = {"annotated": "annotated", "anonymized": "anonymized"}
_VARIANT_NAMES.update({up: ours for ours, up in UPSTREAM_VARIANT_DIR.items()})


def detect_layout(path: Path) -> tuple[str, Path]:
    """``("jsonl" | "upstream", root)`` for a data directory, or DataError.

    An unpacked source archive holds one top folder (``CodeARC-<commit>/``); it is entered.
    """
    path = Path(path)
    if not path.is_dir():
        raise DataError(f"data directory not found: {path}")
    if (path / PROBLEMS_FILE).is_file() or (path / INVOCATIONS_FILE).is_file():
        return "jsonl", path
    if (path / "dataset").is_dir() or (path / "prompt_invocations").is_dir():
        return "upstream", path
    children = [c for c in path.iterdir() if not c.name.startswith(".")]
    if len(children) == 1 and children[0].is_dir():
        inner = children[0]
        if (inner / "dataset").is_dir() or (inner / "prompt_invocations").is_dir():
            return "upstream", inner
    raise DataError(
        f"{path} is not a CodeARC data directory: expected {PROBLEMS_FILE} and "
        f"{INVOCATIONS_FILE} (JSON Lines form), or dataset/ and prompt_invocations/ "
        "(upstream repository layout)"
    )


def load_directory(path: Path) -> list[RawProblem]:
    """Load every problem of both variants from a directory of either layout."""
    kind, root = detect_layout(path)
    return load_jsonl(root) if kind == "jsonl" else load_upstream(root)


# ---------------------------------------------------------------- JSON Lines form


def _jsonl_lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line)`` for every line of a JSON Lines file, which must be UTF-8."""
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    with path.open("r", encoding="utf-8", newline="") as fh:
        try:
            yield from enumerate(fh, start=1)
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from None


def _parse_row(path: Path, lineno: int, line: str) -> tuple[str, dict[str, Any]]:
    """``(where, row)`` of one line: a JSON object, ``where`` naming the file and line."""
    where = f"{path} line {lineno}"
    if not line.strip():
        raise DataError(f"{where}: empty line")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object")
    return where, row


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    for lineno, line in _jsonl_lines(path):
        yield _parse_row(path, lineno, line)


def _field(row: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = row.get(key)
    # bool is a subclass of int: reject it where an int is expected
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(f"{where}: field {key!r} must be {kind.__name__}, got {value!r:.60}")
    return value


def _variant(row: dict[str, Any], where: str) -> Variant:
    name = row.get("variant")
    if name not in _VARIANT_NAMES:
        raise DataError(f"{where}: unknown variant {name!r:.60}")
    return _VARIANT_NAMES[name]


def _problem_row(row: dict[str, Any], where: str) -> tuple[Variant, int, str]:
    """``(variant, index, code)`` of a ``problems.jsonl`` row."""
    return _variant(row, where), _field(row, "index", int, where), _field(row, "code", str, where)


def _example_row(row: dict[str, Any], where: str) -> tuple[Variant, int, RawExample]:
    """``(variant, index, example)`` of an ``invocations.jsonl`` row."""
    variant = _variant(row, where)
    index = _field(row, "index", int, where)
    example = RawExample(
        k=_field(row, "k", int, where),
        input=_field(row, "input", str, where),
        output=_field(row, "output", str, where),
        errored=_field(row, "errored", bool, where),
    )
    return variant, index, example


def load_jsonl(root: Path) -> list[RawProblem]:
    """Load ``problems.jsonl`` and ``invocations.jsonl`` from ``root``."""
    codes: dict[Variant, dict[int, tuple[str, str]]] = {v: {} for v in VARIANTS}
    for where, row in _jsonl_rows(root / PROBLEMS_FILE):
        variant, index, code = _problem_row(row, where)
        if index in codes[variant]:
            raise DataError(f"{where}: duplicate problem {variant}/{index}")
        codes[variant][index] = (code, where)
    examples: dict[Variant, dict[int, dict[int, RawExample]]] = {v: {} for v in VARIANTS}
    origins: dict[tuple[Variant, int], str] = {}
    for where, row in _jsonl_rows(root / INVOCATIONS_FILE):
        variant, index, example = _example_row(row, where)
        per_problem = examples[variant].setdefault(index, {})
        if example.k in per_problem:
            raise DataError(f"{where}: duplicate example {variant}/{index} k={example.k}")
        per_problem[example.k] = example
        origins.setdefault((variant, index), where)
    return _assemble(codes, examples, origins, root / INVOCATIONS_FILE)


# A JSON Lines row's "index" key: in valid JSON a quote inside a string is escaped, so this
# never matches text inside a code or input string.
_INDEX_KEY = re.compile(r'"index"\s*:\s*(-?[0-9.eE+-]+)')


def _rows_of_index(path: Path, index: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """The rows of a JSON Lines file that may belong to problem ``index``.

    A line with an "index" key is skipped unparsed when the wanted number does not occur in
    it, or when every "index" key holds another number. Any other line is parsed (and checked
    by the caller), so a malformed row of the wanted problem is still reported.
    """
    wanted = str(index)
    for lineno, line in _jsonl_lines(path):
        if wanted not in line and '"index"' in line:
            continue  # the fast path: not even the digits occur
        numbers = _INDEX_KEY.findall(line)
        if numbers and wanted not in numbers:
            continue
        yield _parse_row(path, lineno, line)


def load_one_jsonl(root: Path, variant: Variant, index: int) -> RawProblem:
    """One problem from ``problems.jsonl`` and ``invocations.jsonl``, reading only its rows."""
    found: tuple[str, str] | None = None
    for where, row in _rows_of_index(root / PROBLEMS_FILE, index):
        row_variant, row_index, code = _problem_row(row, where)
        if (row_variant, row_index) != (variant, index):
            continue
        if found is not None:
            raise DataError(f"{where}: duplicate problem {variant}/{index}")
        found = (code, where)
    if found is None:
        raise DataError(f"{root / PROBLEMS_FILE}: no problem {variant}/{index}")
    per_problem: dict[int, RawExample] = {}
    origin = ""
    for where, row in _rows_of_index(root / INVOCATIONS_FILE, index):
        row_variant, row_index, example = _example_row(row, where)
        if (row_variant, row_index) != (variant, index):
            continue
        if example.k in per_problem:
            raise DataError(f"{where}: duplicate example {variant}/{index} k={example.k}")
        per_problem[example.k] = example
        origin = origin or where
    examples = _examples_in_order(
        variant, index, per_problem or None, origin, root / INVOCATIONS_FILE
    )
    return RawProblem(variant, index, found[0], examples, found[1])


# ---------------------------------------------------------------- upstream layout


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        # bytes decoded as-is: no newline translation, so checksums match the JSON Lines form
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from None


def load_upstream(root: Path) -> list[RawProblem]:
    """Load ``dataset/<variant>/<i>.py`` and the ``prompt_invocations`` JSON of both variants."""
    codes: dict[Variant, dict[int, tuple[str, str]]] = {v: {} for v in VARIANTS}
    examples: dict[Variant, dict[int, dict[int, RawExample]]] = {v: {} for v in VARIANTS}
    origins: dict[tuple[Variant, int], str] = {}
    for variant in VARIANTS:
        folder = root / "dataset" / UPSTREAM_VARIANT_DIR[variant]
        if not folder.is_dir():
            raise DataError(f"wrong layout: missing folder {folder}")
        for file in folder.glob("*.py"):
            if not file.stem.isdigit() or str(int(file.stem)) != file.stem:
                raise DataError(f"{file}: unexpected file name (expected <index>.py)")
            codes[variant][int(file.stem)] = (_read_text(file), str(file))
        inv_path, table = _upstream_table(root, variant)
        for key, per_k in table.items():
            where = f"{inv_path} key {key!r}"
            if not key.isdigit():
                raise DataError(f"{where}: expected '<index>': {{'<k>': {{...}}}}")
            origins[(variant, int(key))] = where
            examples[variant][int(key)] = _upstream_examples(per_k, where)
    return _assemble(codes, examples, origins, root / "prompt_invocations")


def _upstream_table(root: Path, variant: Variant) -> tuple[Path, dict[str, Any]]:
    """One variant's ``invocations.json``: its path and the table keyed by problem index."""
    inv_path = root / "prompt_invocations" / UPSTREAM_VARIANT_DIR[variant] / INVOCATIONS_SUBPATH
    if not inv_path.is_file():
        raise DataError(f"wrong layout: missing file {inv_path}")
    try:
        table = json.loads(_read_text(inv_path))
    except json.JSONDecodeError as exc:
        raise DataError(f"{inv_path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(table, dict):
        raise DataError(f"{inv_path}: expected a JSON object keyed by problem index")
    return inv_path, table


def _upstream_examples(per_k: Any, where: str) -> dict[int, RawExample]:
    """One problem's ``{"<k>": {input, output, errored}}`` entry of ``invocations.json``."""
    if not isinstance(per_k, dict):
        raise DataError(f"{where}: expected '<index>': {{'<k>': {{...}}}}")
    out: dict[int, RawExample] = {}
    for k_key, entry in per_k.items():
        at = f"{where} example {k_key!r}"
        if not k_key.isdigit() or not isinstance(entry, dict):
            raise DataError(f"{at}: expected '<k>': {{input, output, errored}}")
        out[int(k_key)] = RawExample(
            k=int(k_key),
            input=_field(entry, "input", str, at),
            output=_field(entry, "output", str, at),
            errored=_field(entry, "errored", bool, at),
        )
    return out


def load_one_upstream(root: Path, variant: Variant, index: int) -> RawProblem:
    """One problem from ``dataset/<variant>/<index>.py`` and its variant's invocations."""
    folder = root / "dataset" / UPSTREAM_VARIANT_DIR[variant]
    if not folder.is_dir():
        raise DataError(f"wrong layout: missing folder {folder}")
    module = folder / f"{index}.py"
    if not module.is_file():
        raise DataError(f"variant {variant!r}: missing problem index {index} ({module})")
    code = _read_text(module)
    inv_path, table = _upstream_table(root, variant)
    where = f"{inv_path} key {str(index)!r}"
    per_k = table.get(str(index))
    per_problem = _upstream_examples(per_k, where) if per_k is not None else None
    examples = _examples_in_order(variant, index, per_problem, where, root / "prompt_invocations")
    return RawProblem(variant, index, code, examples, str(module))


def load_one(path: Path, variant: Variant, index: int) -> RawProblem:
    """One problem of one variant from a directory of either layout."""
    kind, root = detect_layout(path)
    if kind == "jsonl":
        return load_one_jsonl(root, variant, index)
    return load_one_upstream(root, variant, index)


# ---------------------------------------------------------------- shared checks


def _missing(indices: set[int], n: int) -> list[int]:
    return sorted(set(range(n)) - indices)


def _assemble(
    codes: dict[Variant, dict[int, tuple[str, str]]],
    examples: dict[Variant, dict[int, dict[int, RawExample]]],
    origins: dict[tuple[Variant, int], str],
    examples_file: Path,
) -> list[RawProblem]:
    """Check completeness (every index, ten examples each) and pair modules with examples."""
    out: list[RawProblem] = []
    for variant in VARIANTS:
        have = codes[variant]
        missing = _missing(set(have), EXPECTED_PROBLEMS)
        if missing:
            raise DataError(
                f"variant {variant!r}: missing problem index {missing[0]} "
                f"({len(missing)} missing of {EXPECTED_PROBLEMS})"
            )
        extra = sorted(i for i in have if i >= EXPECTED_PROBLEMS)
        if extra:
            raise DataError(f"{have[extra[0]][1]}: unexpected problem index {extra[0]}")
        stray = sorted(set(examples[variant]) - set(have))
        if stray:
            raise DataError(
                f"{origins[(variant, stray[0])]}: examples for unknown problem {variant}/{stray[0]}"
            )
        for index in range(EXPECTED_PROBLEMS):
            code, origin = have[index]
            examples_of = _examples_in_order(
                variant,
                index,
                examples[variant].get(index),
                origins.get((variant, index), ""),
                examples_file,
            )
            out.append(RawProblem(variant, index, code, examples_of, origin))
    return out


def _examples_in_order(
    variant: Variant,
    index: int,
    per_problem: dict[int, RawExample] | None,
    origin: str,
    examples_file: Path,
) -> tuple[RawExample, ...]:
    """A problem's examples by k, which must run 0..9 (``origin``: where the first was read)."""
    if per_problem is None:
        raise DataError(f"{examples_file}: no examples for problem {variant}/{index}")
    ks = sorted(per_problem)
    if ks != list(range(EXAMPLES_PER_PROBLEM)):
        raise DataError(
            f"{origin}: problem {variant}/{index} has examples k={ks}, "
            f"expected k=0..{EXAMPLES_PER_PROBLEM - 1}"
        )
    return tuple(per_problem[k] for k in ks)
