"""The built-in suite: our own small functions, in both variants, usable offline.

The annotated variant is the source in ``functions/builtin/<name>.py``, one module per
function, read as package data (never imported by the harness: each runs in a sandbox). The
anonymized variant is derived from it by code: the target is renamed ``solution`` (calls
included), and type hints and docstrings are removed. Examples are stored data
(``builtin_examples.json``): the call text, the ``str()`` of the value or the exception
message, and the errored flag. They were produced once by running the functions while
authoring; a test recomputes them in a sandbox.
"""

from __future__ import annotations

import ast
import functools
import json
from importlib import resources

from codearc_env.errors import DataError
from codearc_env.functions.dataset import build_example, normalize_variant
from codearc_env.functions.quirks import detect_quirks, scan_calls
from codearc_env.functions.spec import HiddenFunction, Variant
from codearc_env.functions.target import find_target, parse_module

EXAMPLES_FILE = "builtin_examples.json"
SOURCE_FOLDER = "builtin"
ANONYMOUS_NAME = "solution"
# The suite's order: a function's ``index`` is its position here, so append, never reorder.
BUILTIN_NAMES: tuple[str, ...] = (
    "clamp_int", "digit_sum", "collatz_steps", "gcd_of_list", "is_perfect_square", "to_base",
    "integer_divide", "count_set_bits", "mean_of", "round_to_step", "hypotenuse",
    "celsius_to_fahrenheit", "safe_sqrt", "reverse_words", "run_length_encode",
    "is_palindrome_phrase", "caesar_shift", "vowel_positions", "first_repeated_char",
    "title_case_words", "parse_key_values", "running_max", "chunk_list", "rotate_left",
    "flatten_once", "second_largest", "pairwise_differences", "merge_sorted", "word_frequencies",
    "invert_mapping", "merge_counts", "group_by_length", "min_max_pair", "swap_pairs",
    "zip_longest_sum", "common_elements", "symmetric_difference_size", "distinct_word_lengths",
    "sum_all", "join_with", "describe_call", "polynomial_value", "lookup_or_default",
    "nth_fibonacci", "parse_int_or_none", "checked_index", "classify_number",
)  # fmt: skip


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


class _Anonymize(ast.NodeTransformer):
    """Rename the target everywhere and drop annotations and docstrings."""

    def __init__(self, target: str) -> None:
        self.target = target

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id == self.target:
            node.id = ANONYMOUS_NAME
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        self.generic_visit(node)
        if node.name == self.target:
            node.name = ANONYMOUS_NAME
        node.returns = None
        for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
            arg.annotation = None
        for extra in (node.args.vararg, node.args.kwarg):
            if extra is not None:
                extra.annotation = None
        if len(node.body) > 1 and _is_docstring(node.body[0]):
            node.body = node.body[1:]
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:
            return ast.Pass()
        return ast.Assign(targets=[node.target], value=node.value, lineno=node.lineno)


def anonymize(code: str) -> str:
    """The anonymized form of an annotated module."""
    tree = parse_module(code, "built-in module")
    target = find_target(code, "built-in module")
    tree = ast.fix_missing_locations(_Anonymize(target).visit(tree))
    return ast.unparse(tree) + "\n"


def _call_text(k: int, call: str) -> str:
    # the same wrapped form as the benchmark's stored examples
    return f"print('Result {k + 1}: ' + str({call}))"


def builtin_source(name: str) -> str:
    """The module source of one built-in function, exactly as stored in its file."""
    path = resources.files("codearc_env.functions").joinpath(SOURCE_FOLDER).joinpath(f"{name}.py")
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"built-in {name}: no source file {SOURCE_FOLDER}/{name}.py") from None


@functools.cache
def _stored_examples() -> dict[str, list[dict[str, object]]]:
    path = resources.files("codearc_env.functions").joinpath(EXAMPLES_FILE)
    return json.loads(path.read_text("utf-8"))


def _make(position: int, name: str, variant: Variant) -> HiddenFunction:
    code = builtin_source(name)
    target = find_target(code, f"built-in {name}")
    if target != name:
        raise DataError(f"built-in {name}: its last def is {target!r}")
    stored = _stored_examples().get(name)
    if stored is None:
        raise DataError(f"built-in {name}: no examples in {EXAMPLES_FILE}")
    if variant == "anonymized":
        code, target = anonymize(code), ANONYMOUS_NAME
    examples = []
    for k, row in enumerate(stored):
        call = str(row["call"])
        if not call.startswith(name + "("):
            raise DataError(f"built-in {name}: example {k} does not call {name}")
        text = _call_text(k, target + call[len(name) :])
        examples.append(build_example(k, text, str(row["output"]), bool(row["errored"]), target))
    quirks = detect_quirks(
        target=target,
        code=code,
        tree=parse_module(code, f"built-in {name}"),
        scans=scan_calls([e.call_text for e in examples], target),
        outputs=[e.output for e in examples],
        errored=[e.errored for e in examples],
    )
    return HiddenFunction(
        index=position,
        variant=variant,
        source="builtin",
        code=code,
        target=target,
        examples=tuple(examples),
        quirks=quirks,
        name=name,
    )


@functools.cache
def _suite(variant: Variant) -> tuple[HiddenFunction, ...]:
    return tuple(_make(i, name, variant) for i, name in enumerate(BUILTIN_NAMES))


def builtin_suite(variant: str = "annotated") -> list[HiddenFunction]:
    """All built-in functions of one variant, in a fixed order (``index`` is the position)."""
    return list(_suite(normalize_variant(variant)))


def builtin_names() -> list[str]:
    return list(BUILTIN_NAMES)


def builtin_function(name: str, variant: str = "annotated") -> HiddenFunction:
    for fn in _suite(normalize_variant(variant)):
        if fn.name == name:
            return fn
    from codearc_env.functions.dataset import UnknownProblemError

    raise UnknownProblemError(f"no built-in function named {name!r}")
