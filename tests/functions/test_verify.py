"""verify: agreement with stored outputs, and every disagreement explained or listed."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from codearc_env.functions.builtin_suite import builtin_function
from codearc_env.functions.dataset import build_example
from codearc_env.functions.quirks import detect_quirks, scan_calls
from codearc_env.functions.spec import TIMEOUT_OUTPUT, HiddenFunction
from codearc_env.functions.target import parse_module
from codearc_env.functions.verify import (
    INT_DIGITS_MESSAGE,
    agrees,
    summaries_by_group,
    verify_all,
    verify_function,
)
from codearc_env.sandbox.base import CallResult


def _function(code: str, target: str, rows: list[tuple[str, str, bool]]) -> HiddenFunction:
    """A hidden function built the way the loader builds one: quirks found by code."""
    examples = tuple(
        build_example(k, f"print('Result {k + 1}: ' + str({call}))", out, err, target)
        if not call.startswith("RAW:")
        else build_example(k, call[4:], out, err, target)
        for k, (call, out, err) in enumerate(rows)
    )
    quirks = detect_quirks(
        target=target,
        code=code,
        tree=parse_module(code, "test"),
        scans=scan_calls([e.call_text for e in examples], target),
        outputs=[e.output for e in examples],
        errored=[e.errored for e in examples],
    )
    return HiddenFunction(0, "annotated", "apps", code, target, examples, quirks)


def test_a_changed_stored_output_is_an_unexplained_disagreement(fakes: SimpleNamespace) -> None:
    fn = builtin_function("digit_sum")
    changed = replace(fn.examples[2], output="7")  # digit_sum(123) is 6
    fn = replace(fn, examples=(*fn.examples[:2], changed, *fn.examples[3:]))
    (outcome,) = verify_all([fn], fakes.Subprocess)
    assert [e.k for e in outcome.unexplained] == [2]
    bad = outcome.unexplained[0]
    assert (bad.expected, bad.actual, bad.explanation) == ("7", "6", None)
    assert not outcome.runs_differ
    group = summaries_by_group([outcome])[("builtin", "annotated")]
    assert (group.problems, group.examples, group.agree, group.unexplained) == (1, 10, 9, 1)
    assert group.problems_all_agree == 0


def test_quirks_explain_their_disagreements(fakes: SimpleNamespace) -> None:
    code = (
        "import random\n\n"
        "def helper(x):\n    return -x\n\n"
        "def noisy(x):\n    return x + random.random()\n"
    )
    fn = _function(
        code,
        "noisy",
        [
            ("noisy(1)", "1.5", False),  # random: differs between runs
            ("helper(2)", "2", False),  # ill-posed: calls a helper, and the output is wrong
            ("RAW:print('Result 3: ' + str(noisy(3))", "'(' was never closed", True),
        ],
    )
    assert fn.quirks.nondeterministic and fn.quirks.ill_posed and fn.quirks.invalid_calls == 1
    outcome = verify_function(fn, fakes.Subprocess(), fakes.Subprocess())
    assert [e.explanation for e in outcome.examples] == [
        "nondeterministic",
        "ill_posed",
        "invalid_calls",
    ]
    assert outcome.runs_differ and outcome.unexplained == ()
    assert outcome.examples[2].actual == "<not run>"


def test_dynamic_nondeterminism_is_found_without_a_static_flag(fakes: SimpleNamespace) -> None:
    # the order of a set of strings follows the per-process hash seed
    code = "def letters(s):\n    return str(set(s.split()))\n"
    fn = _function(
        code, "letters", [("letters('alpha beta gamma delta epsilon zeta eta')", "x", False)]
    )
    assert not fn.quirks.nondeterministic
    differed = any(
        verify_function(fn, fakes.Subprocess(), fakes.Subprocess()).runs_differ for _ in range(6)
    )
    assert differed


def test_timeouts_errors_and_the_int_digit_limit(fakes: SimpleNamespace) -> None:
    code = "def f(x):\n    return x\n"
    fn = _function(
        code,
        "f",
        [
            ("f(1)", TIMEOUT_OUTPUT, True),  # stored timeout, times out here too: agrees
            ("f(2)", TIMEOUT_OUTPUT, True),  # stored timeout, finishes here: explained
            ("f(3)", "boom", True),  # stored error, raises here with another message: agrees
            ("f(4)", INT_DIGITS_MESSAGE + "; use sys.set_int_max_str_digits()", True),
            ("f(5)", "5", False),  # times out here only: explained as slow here
            ("f(6)", "6", False),  # raises here only: unexplained
        ],
    )
    canned = {
        "f(1)": CallResult(ok=False, timed_out=True),
        "f(2)": CallResult(ok=True, value_str="2"),
        "f(3)": CallResult(ok=False, error_type="ValueError", error_message="other"),
        "f(4)": CallResult(ok=True, value_str="4" * 5000),
        "f(5)": CallResult(ok=False, timed_out=True),
        "f(6)": CallResult(ok=False, error_type="TypeError", error_message="no"),
    }
    outcome = verify_function(fn, fakes.Canned(canned), fakes.Canned(canned))
    assert [(e.agrees, e.explanation) for e in outcome.examples] == [
        (True, None),
        (False, "timed_out_examples"),
        (True, None),
        (False, "int_digits_limit"),
        (False, "timeout_here"),
        (False, None),
    ]
    assert outcome.examples[4].actual == "<timed out>"
    assert outcome.examples[5].actual == "<raised TypeError: no>"


def test_agreement_rules() -> None:
    fn = builtin_function("safe_sqrt")
    ok_example = fn.examples[0]  # safe_sqrt(4) -> 2.0
    assert agrees(ok_example, CallResult(ok=True, value_str="2.0"))
    assert not agrees(ok_example, CallResult(ok=True, value_str="2"))
    assert not agrees(ok_example, CallResult(ok=True, value_str="2.0", truncated=True))
    assert not agrees(ok_example, CallResult(ok=False, infra_error="worker died"))
    assert not agrees(ok_example, None)
    # upstream dropped trailing whitespace from printed text
    assert agrees(replace(ok_example, output="2.0"), CallResult(ok=True, value_str="2.0  "))
    err = replace(ok_example, output="math domain error", errored=True)
    assert agrees(err, CallResult(ok=False, error_type="ValueError", error_message="x"))
    assert not agrees(err, CallResult(ok=True, value_str="1"))


def test_environment_differences_are_explained(fakes: SimpleNamespace) -> None:
    code = (
        "def count(message: str) -> Counter:\n"
        "    from collections import Counter\n"
        "    return Counter(message)\n"
    )
    fn = _function(
        code,
        "count",
        [
            ("count('a')", "Counter({'a': 1})", False),
            ("count('b')", "[np.float64(0.5), np.int64(3)]", False),
            ("count('c')", "7", False),
        ],
    )
    canned = {
        "count('a')": CallResult(
            ok=False, error_type="NameError", error_message="name 'Counter' is not defined"
        ),
        "count('b')": CallResult(ok=True, value_str="[0.5, 3]"),
        "count('c')": CallResult(ok=False, timed_out=True),
    }
    outcome = verify_function(fn, fakes.Canned(canned), fakes.Canned(canned))
    assert [e.explanation for e in outcome.examples] == [
        "annotation_name_error",
        "numpy_repr",
        "timeout_here",
    ]


def test_one_differing_example_makes_every_disagreement_of_the_problem_nondeterministic(
    fakes: SimpleNamespace,
) -> None:
    code = "def f(x):\n    return x\n"
    fn = _function(code, "f", [("f(1)", "1", False), ("f(2)", "wrong", False)])
    first = {"f(1)": CallResult(ok=True, value_str="1"), "f(2)": CallResult(ok=True, value_str="2")}
    second = {**first, "f(1)": CallResult(ok=True, value_str="other")}
    outcome = verify_function(fn, fakes.Canned(first), fakes.Canned(second))
    assert outcome.runs_differ
    assert [(e.agrees, e.explanation) for e in outcome.examples] == [
        (False, "nondeterministic"),
        (False, "nondeterministic"),
    ]


def test_a_reordered_output_is_explained_as_order_only(fakes: SimpleNamespace) -> None:
    fn = _function("def f(x):\n    return x\n", "f", [("f(1)", "['x', 'z']", False)])
    canned = {"f(1)": CallResult(ok=True, value_str="['z', 'x']")}
    (example,) = verify_function(fn, fakes.Canned(canned), fakes.Canned(canned)).examples
    assert (example.agrees, example.explanation) == (False, "order_only")
