"""The built-in suite: our own small functions, in both variants, usable offline.

The annotated variant is the source in :mod:`builtin_sources`. The anonymized variant is
derived from it by code: the target is renamed ``solution`` (calls included), and type
hints and docstrings are removed. Examples are stored data (``builtin_examples.json``): the
call text, the ``str()`` of the value or the exception message, and the errored flag. They
were produced once by running the functions while authoring; a test recomputes them in a
sandbox.
"""

from __future__ import annotations

import ast
import functools
import json
from importlib import resources

from codearc_env.functions.builtin_sources import SOURCES
from codearc_env.functions.dataset import build_example, normalize_variant
from codearc_env.functions.quirks import detect_quirks, scan_calls
from codearc_env.functions.spec import HiddenFunction, Variant
from codearc_env.functions.target import find_target, parse_module

from codearc_env.errors import DataError

EXAMPLES_FILE = "builtin_examples.json"
ANONYMOUS_NAME = "solution"


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


@functools.cache
def _stored_examples() -> dict[str, list[dict[str, object]]]:
    path = resources.files("codearc_env.functions").joinpath(EXAMPLES_FILE)
    return json.loads(path.read_text("utf-8"))


def _make(position: int, name: str, source: str, variant: Variant) -> HiddenFunction:
    code = source.lstrip("\n")
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
    return tuple(_make(i, name, src, variant) for i, (name, src) in enumerate(SOURCES))


def builtin_suite(variant: str = "annotated") -> list[HiddenFunction]:
    """All built-in functions of one variant, in a fixed order (``index`` is the position)."""
    return list(_suite(normalize_variant(variant)))


def builtin_names() -> list[str]:
    return [name for name, _ in SOURCES]


def builtin_function(name: str, variant: str = "annotated") -> HiddenFunction:
    for fn in _suite(normalize_variant(variant)):
        if fn.name == name:
            return fn
    from codearc_env.functions.dataset import UnknownProblemError

    raise UnknownProblemError(f"no built-in function named {name!r}")
