"""The built-in suite: our own functions, both variants, stored examples that really hold."""

from __future__ import annotations

import ast
from importlib import resources
from types import SimpleNamespace

import pytest

from codearc_env.errors import DataError
from codearc_env.functions import builtin_suite
from codearc_env.functions.builtin_suite import (
    anonymize,
    builtin_function,
    builtin_names,
    builtin_source,
)
from codearc_env.functions.verify import verify_all


def _target_def(code: str, name: str) -> ast.FunctionDef:
    tree = ast.parse(code)
    return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)


def test_suite_size_names_and_examples() -> None:
    annotated = builtin_suite("annotated")
    assert len(annotated) >= 40
    assert [f.name for f in annotated] == builtin_names()
    assert len(set(builtin_names())) == len(annotated)
    for fn in annotated:
        assert fn.source == "builtin" and fn.target == fn.name
        assert fn.problem_id == f"builtin/annotated/{fn.name}"
        assert [e.k for e in fn.examples] == list(range(10))
        for ex in fn.examples:
            # every stored call is a literal call of the target
            assert ex.call is not None and ex.call.name == fn.target, ex.call_text
            assert ex.expression == ex.call.text


def test_annotated_variant_has_hints_on_every_target() -> None:
    for fn in builtin_suite("annotated"):
        node = _target_def(fn.code, fn.target)
        params = [*node.args.args, *node.args.kwonlyargs]
        assert node.returns is not None, fn.name
        assert all(p.annotation is not None for p in params), fn.name


def test_anonymized_variant_is_renamed_and_has_no_hints_or_docstrings() -> None:
    for anon, ann in zip(builtin_suite("anonymized"), builtin_suite("annotated"), strict=True):
        assert anon.name == ann.name and anon.target == "solution"
        assert anon.problem_id == f"builtin/anonymized/{ann.name}"
        tree = ast.parse(anon.code)
        assert ann.name not in anon.code
        for node in ast.walk(tree):
            assert not isinstance(node, ast.AnnAssign)
            if isinstance(node, ast.arg):
                assert node.annotation is None
            if isinstance(node, ast.FunctionDef):
                assert node.returns is None
        assert [e.output for e in anon.examples] == [e.output for e in ann.examples]
        assert [e.expression for e in anon.examples] == [
            e.expression.replace(ann.name, "solution", 1) for e in ann.examples
        ]


def test_anonymize_renames_recursive_calls_and_keeps_helpers() -> None:
    code = (
        "def helper(x: int) -> int:\n    return x\n\n"
        "def count_down(n: int) -> list[int]:\n"
        '    """Doc."""\n'
        "    total: int = 0\n"
        "    return [] if n == 0 else [helper(n)] + count_down(n - 1)\n"
    )
    out = anonymize(code)
    assert "def helper(x):" in out and "def solution(n):" in out
    assert "solution(n - 1)" in out and "count_down" not in out
    assert "Doc." not in out and "total = 0" in out


def test_suite_covers_the_required_kinds_of_values() -> None:
    suite = builtin_suite("annotated")
    arg_types: set[type] = set()
    for fn in suite:
        for ex in fn.examples:
            assert ex.call is not None
            values = [*ex.call.args, *(v for _, v in ex.call.kwargs)]
            arg_types.update(type(v) for v in values)
    assert {int, float, str, list, dict, tuple, set, type(None), bool} <= arg_types
    outputs = [e.output for f in suite for e in f.examples if not e.errored]
    assert "None" in outputs and any(o.startswith("{") for o in outputs)
    assert any(o.startswith("(") for o in outputs) and any(
        o.startswith("frozenset(") for o in outputs
    )
    assert sum(1 for f in suite for e in f.examples if e.errored) >= 10
    defs = [_target_def(f.code, f.target) for f in suite]
    assert sum(1 for d in defs if d.args.vararg) >= 3
    assert sum(1 for d in defs if d.args.kwarg) >= 1
    assert sum(1 for d in defs if d.args.defaults or d.args.kw_defaults) >= 5
    assert sum(1 for d in defs if len(d.args.args) >= 3) >= 2
    assert any(
        len([n for n in ast.parse(f.code).body if isinstance(n, ast.FunctionDef)]) > 1
        for f in suite
    )


def test_source_folder_holds_exactly_one_module_per_function() -> None:
    folder = resources.files("codearc_env.functions").joinpath("builtin")
    files = sorted(f.name for f in folder.iterdir() if f.name.endswith(".py"))
    assert files == sorted(f"{name}.py" for name in builtin_names())
    fn = builtin_function("clamp_int")
    assert fn.code == folder.joinpath("clamp_int.py").read_text("utf-8")
    assert fn.code.startswith("def clamp_int(value: int, low: int, high: int) -> int:\n")


def test_missing_source_file_is_a_data_error() -> None:
    with pytest.raises(DataError) as err:
        builtin_source("no_such_function")
    assert str(err.value) == "built-in no_such_function: no source file builtin/no_such_function.py"


def test_lookup_by_name() -> None:
    fn = builtin_function("sum_all", "anonymized")
    assert fn.target == "solution" and fn.variant == "anonymized"
    assert builtin_function("sum_all") is builtin_suite()[builtin_names().index("sum_all")]


@pytest.mark.parametrize("variant", ["annotated", "anonymized"])
def test_stored_outputs_agree_with_a_fresh_run(variant: str, fakes: SimpleNamespace) -> None:
    """Recompute every stored example in a child process (fake sandbox) and compare."""
    outcomes = verify_all(builtin_suite(variant), fakes.Subprocess)
    bad = [(o.problem_id, e) for o in outcomes for e in o.examples if not e.agrees]
    assert bad == []
    assert len(outcomes) == len(builtin_names())


def _sandbox_or_skip(backend: str):  # noqa: ANN202
    try:
        from codearc_env.sandbox import available_backends, make_sandbox
    except ImportError:
        pytest.skip("codearc_env.sandbox.make_sandbox does not exist yet")
    if backend not in available_backends():
        pytest.skip(f"sandbox backend {backend!r} is not available here")
    return make_sandbox


@pytest.mark.parametrize(
    "backend",
    [
        "process",
        pytest.param("bwrap", marks=pytest.mark.bwrap),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def test_stored_outputs_agree_inside_the_real_sandbox(backend: str) -> None:
    make_sandbox = _sandbox_or_skip(backend)
    with pytest.warns() if backend == "process" else _nullcontext():
        outcomes = verify_all(
            builtin_suite("annotated") + builtin_suite("anonymized"),
            lambda: make_sandbox(backend),
        )
    bad = [(o.problem_id, e) for o in outcomes for e in o.examples if not e.agrees]
    assert bad == []


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
