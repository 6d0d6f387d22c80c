"""Read raw problems from a local directory: the JSON Lines form or the upstream repository layout.

Both loaders validate everything they read and raise :class:`DataError` naming the file and
the line (or key) at fault; nothing is returned half-loaded. Interpretation (targets, quirks,
parsed calls) happens later, in :mod:`codearc_env.functions.dataset`.
"""

from __future__ import annotations

import json
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


def _jsonl_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    if not path.is_file():
        raise DataError(f"missing data file: {path}")
    with path.open("r", encoding="utf-8", newline="") as fh:
        try:
            for lineno, line in enumerate(fh, start=1):
                where = f"{path} line {lineno}"
                if not line.strip():
                    raise DataError(f"{where}: empty line")
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(f"{where}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{where}: expected a JSON object")
                yield where, row
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from None


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


def load_jsonl(root: Path) -> list[RawProblem]:
    """Load ``problems.jsonl`` and ``invocations.jsonl`` from ``root``."""
    codes: dict[Variant, dict[int, tuple[str, str]]] = {v: {} for v in VARIANTS}
    for where, row in _jsonl_rows(root / PROBLEMS_FILE):
        variant = _variant(row, where)
        index = _field(row, "index", int, where)
        code = _field(row, "code", str, where)
        if index in codes[variant]:
            raise DataError(f"{where}: duplicate problem {variant}/{index}")
        codes[variant][index] = (code, where)
    examples: dict[Variant, dict[int, dict[int, RawExample]]] = {v: {} for v in VARIANTS}
    origins: dict[tuple[Variant, int], str] = {}
    for where, row in _jsonl_rows(root / INVOCATIONS_FILE):
        variant = _variant(row, where)
        index = _field(row, "index", int, where)
        k = _field(row, "k", int, where)
        example = RawExample(
            k=k,
            input=_field(row, "input", str, where),
            output=_field(row, "output", str, where),
            errored=_field(row, "errored", bool, where),
        )
        per_problem = examples[variant].setdefault(index, {})
        if k in per_problem:
            raise DataError(f"{where}: duplicate example {variant}/{index} k={k}")
        per_problem[k] = example
        origins.setdefault((variant, index), where)
    return _assemble(codes, examples, origins, root / INVOCATIONS_FILE)


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
        inv_path = root / "prompt_invocations" / UPSTREAM_VARIANT_DIR[variant] / INVOCATIONS_SUBPATH
        if not inv_path.is_file():
            raise DataError(f"wrong layout: missing file {inv_path}")
        try:
            table = json.loads(_read_text(inv_path))
        except json.JSONDecodeError as exc:
            raise DataError(f"{inv_path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(table, dict):
            raise DataError(f"{inv_path}: expected a JSON object keyed by problem index")
        for key, per_k in table.items():
            where = f"{inv_path} key {key!r}"
            if not key.isdigit() or not isinstance(per_k, dict):
                raise DataError(f"{where}: expected '<index>': {{'<k>': {{...}}}}")
            index = int(key)
            origins[(variant, index)] = where
            per_problem = examples[variant].setdefault(index, {})
            for k_key, entry in per_k.items():
                at = f"{where} example {k_key!r}"
                if not k_key.isdigit() or not isinstance(entry, dict):
                    raise DataError(f"{at}: expected '<k>': {{input, output, errored}}")
                per_problem[int(k_key)] = RawExample(
                    k=int(k_key),
                    input=_field(entry, "input", str, at),
                    output=_field(entry, "output", str, at),
                    errored=_field(entry, "errored", bool, at),
                )
    return _assemble(codes, examples, origins, root / "prompt_invocations")


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
            per_problem = examples[variant].get(index)
            if per_problem is None:
                raise DataError(f"{examples_file}: no examples for problem {variant}/{index}")
            ks = sorted(per_problem)
            if ks != list(range(EXAMPLES_PER_PROBLEM)):
                raise DataError(
                    f"{origins[(variant, index)]}: problem {variant}/{index} has examples k={ks}, "
                    f"expected k=0..{EXAMPLES_PER_PROBLEM - 1}"
                )
            out.append(
                RawProblem(
                    variant=variant,
                    index=index,
                    code=code,
                    examples=tuple(per_problem[k] for k in ks),
                    origin=origin,
                )
            )
    return out
