"""The loaded benchmark: both variants of every problem, with targets, quirks and named splits.

Targets and quirks are computed when the dataset loads (splits need them); the examples'
literal arguments are parsed on first access to a problem and then kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from codearc_env.errors import CallParseError, DataError
from codearc_env.functions.calls import inner_call_text, parse_call
from codearc_env.functions.quirks import detect_quirks, scan_calls
from codearc_env.functions.raw import EXPECTED_PROBLEMS, RawProblem
from codearc_env.functions.spec import VARIANTS, Example, HiddenFunction, Quirks, Source, Variant
from codearc_env.functions.target import parse_module, target_from_tree

SOURCE_RANGES: tuple[tuple[Source, range], ...] = (
    ("humaneval+", range(0, 78)),
    ("mbpp+", range(78, 209)),
    ("apps", range(209, EXPECTED_PROBLEMS)),
)
SPLITS: tuple[str, ...] = ("all", "clean", "humaneval+", "mbpp+", "apps", "builtin")
_VARIANT_ALIASES: dict[str, Variant] = {
    "annotated": "annotated",
    "anonymized": "anonymized",
    "anonymous": "anonymized",
}


class UnknownProblemError(DataError, KeyError):
    """No problem with that variant and index (or id) in the dataset."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


def source_of(index: int) -> Source:
    """The benchmark a problem index comes from (the ranges are the same in both variants)."""
    for name, indices in SOURCE_RANGES:
        if index in indices:
            return name
    raise UnknownProblemError(f"no problem index {index}: indices run 0..{EXPECTED_PROBLEMS - 1}")


def normalize_variant(variant: str) -> Variant:
    try:
        return _VARIANT_ALIASES[variant]
    except KeyError:
        raise DataError(
            f"unknown variant {variant!r}: choose 'annotated' or 'anonymized'"
        ) from None


def strip_result_prefix(output: str, k: int, where: str) -> str:
    """``Result 3: 42`` -> ``42`` for example k=2; DataError when the prefix is not there.

    Upstream captured printed text with its trailing whitespace removed, so a value whose
    ``str()`` is empty is stored as ``Result 3:`` with no space.
    """
    prefix = f"Result {k + 1}:"
    if not output.startswith(prefix):
        raise DataError(f"{where}: example k={k} output does not start with {prefix!r}")
    rest = output[len(prefix) :]
    return rest[1:] if rest.startswith(" ") else rest


@dataclass(frozen=True)
class _Entry:
    raw: RawProblem
    target: str
    quirks: Quirks
    outputs: tuple[str, ...]


def _analyse(raw: RawProblem) -> _Entry:
    where = f"{raw.origin} ({raw.variant}/{raw.index})"
    tree = parse_module(raw.code, where)
    target = target_from_tree(tree, where)
    outputs = tuple(
        ex.output if ex.errored else strip_result_prefix(ex.output, ex.k, where)
        for ex in raw.examples
    )
    quirks = detect_quirks(
        target=target,
        code=raw.code,
        tree=tree,
        scans=scan_calls([ex.input for ex in raw.examples], target),
        outputs=outputs,
        errored=[ex.errored for ex in raw.examples],
    )
    return _Entry(raw=raw, target=target, quirks=quirks, outputs=outputs)


def build_example(k: int, call_text: str, output: str, errored: bool, target: str) -> Example:
    """One :class:`Example`: the literal call when there is one, and the bare call expression."""
    with warnings.catch_warnings():  # invalid escapes in stored calls are not ours to report
        warnings.simplefilter("ignore")
        try:
            call = parse_call(call_text, target)
        except CallParseError:
            call = None
        # a parsed call's text is already the inner expression: skip a second parse
        expression = call.text if call is not None else inner_call_text(call_text)
    return Example(
        k=k,
        call_text=call_text,
        call=call,
        expression=expression,
        output=output,
        errored=errored,
    )


def _build(entry: _Entry) -> HiddenFunction:
    raw = entry.raw
    examples = tuple(
        build_example(ex.k, ex.input, out, ex.errored, entry.target)
        for ex, out in zip(raw.examples, entry.outputs, strict=True)
    )
    return HiddenFunction(
        index=raw.index,
        variant=raw.variant,
        source=source_of(raw.index),
        code=raw.code,
        target=entry.target,
        examples=examples,
        quirks=entry.quirks,
    )


def build_problem(raw: RawProblem) -> HiddenFunction:
    """One problem, interpreted exactly as :class:`Dataset` interprets it."""
    return _build(_analyse(raw))


def problem_by_id(problem_id: str, get: Callable[[str, int], HiddenFunction]) -> HiddenFunction:
    """``annotated/12``, ``anonymized/12`` (or ``anonymous/12``), ``builtin/<variant>/<name>``;
    ``get(variant, index)`` supplies a benchmark problem."""
    parts = problem_id.split("/")
    if len(parts) == 3 and parts[0] == "builtin":
        from codearc_env.functions.builtin_suite import builtin_function

        return builtin_function(parts[2], normalize_variant(parts[1]))
    if len(parts) == 2 and parts[1].isdigit():
        return get(parts[0], int(parts[1]))
    raise UnknownProblemError(
        f"bad problem id {problem_id!r}: expected 'annotated/12', 'anonymized/12' "
        "or 'builtin/<variant>/<name>'"
    )


def is_clean(quirks: Quirks) -> bool:
    """The ``clean`` split: no ill-posed examples, no nondeterminism, no invalid stored calls."""
    return not (quirks.ill_posed or quirks.nondeterministic or quirks.invalid_calls)


class Dataset:
    """Every problem of both variants, plus the built-in suite, from one data source."""

    def __init__(self, problems: Sequence[RawProblem], origin: str = "") -> None:
        self.origin = origin
        """Where the data came from (a directory), for display."""
        entries = [_analyse(raw) for raw in problems]
        self._entries: dict[tuple[Variant, int], _Entry] = {}
        for entry in entries:
            key = (entry.raw.variant, entry.raw.index)
            if key in self._entries:
                raise DataError(f"{entry.raw.origin}: duplicate problem {key[0]}/{key[1]}")
            self._entries[key] = entry
        self._built: dict[tuple[Variant, int], HiddenFunction] = {}

    # ------------------------------------------------------------------ lookup

    def get(self, variant: str, index: int) -> HiddenFunction:
        key = (normalize_variant(variant), index)
        built = self._built.get(key)
        if built is None:
            entry = self._entries.get(key)
            if entry is None:
                raise UnknownProblemError(f"no problem {key[0]}/{index} in the dataset")
            built = self._built[key] = _build(entry)
        return built

    def by_id(self, problem_id: str) -> HiddenFunction:
        """``annotated/12``, ``anonymized/12`` (or ``anonymous/12``), ``builtin/<variant>/<name>``."""
        return problem_by_id(problem_id, self.get)

    def quirks(self, variant: str, index: int) -> Quirks:
        """The quirks of one problem, without parsing its examples."""
        entry = self._entries.get((normalize_variant(variant), index))
        if entry is None:
            raise UnknownProblemError(f"no problem {variant}/{index} in the dataset")
        return entry.quirks

    def target(self, variant: str, index: int) -> str:
        return self._entries[(normalize_variant(variant), index)].target

    # ------------------------------------------------------------------ splits

    @staticmethod
    def splits() -> tuple[str, ...]:
        return SPLITS

    def split(self, name: str, variant: str = "annotated") -> list[HiddenFunction]:
        """The problems of one named split in one variant, by index."""
        v = normalize_variant(variant)
        if name == "builtin":
            from codearc_env.functions.builtin_suite import builtin_suite

            return builtin_suite(v)
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)}")
        return [self.get(v, i) for i in self.split_indices(name, v)]

    def split_indices(self, name: str, variant: str = "annotated") -> list[int]:
        """Indices of a benchmark split (not ``builtin``) without building the problems."""
        v = normalize_variant(variant)
        keys = sorted(i for (var, i) in self._entries if var == v)
        if name == "all":
            return keys
        if name == "clean":
            return [i for i in keys if is_clean(self._entries[(v, i)].quirks)]
        for source, indices in SOURCE_RANGES:
            if name == source:
                return [i for i in keys if i in indices]
        raise DataError(f"unknown split {name!r}: choose one of {', '.join(SPLITS[:-1])}")

    # ------------------------------------------------------------------ container

    def __len__(self) -> int:
        """Benchmark problems over both variants (2228); the built-in suite is not counted."""
        return len(self._entries)

    def __iter__(self) -> Iterator[HiddenFunction]:
        """Benchmark problems, annotated first, each variant by index."""
        for variant in VARIANTS:
            for index in self.split_indices("all", variant):
                yield self.get(variant, index)

    def __repr__(self) -> str:
        return f"Dataset({len(self)} problems from {self.origin or 'memory'})"
