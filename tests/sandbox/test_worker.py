"""The worker protocol through a real backend: batches, kinds of invocation, failures."""

from __future__ import annotations

import pytest

from codearc_env.sandbox import codec
from codearc_env.sandbox.base import Invocation, Limits, Sandbox
from codearc_env.sandbox.launch import launch_source
from codearc_env.sandbox.worker import MODULE_NAME


def test_launch_source_embeds_codec_and_worker() -> None:
    source = launch_source()
    compile(source, "<launch>", "exec")
    assert "_codearc_codec" in source and "def supervise" in source


def test_batch_results_come_back_in_order(process_box: Sandbox) -> None:
    results = process_box.run(
        "def f(x):\n    return x * 2\n", "f", [Invocation(args=(i,)) for i in range(50)]
    )
    assert [r.value_str for r in results] == [str(i * 2) for i in range(50)]
    assert all(r.duration_s > 0 for r in results)


def test_kwargs_and_expression_invocations(process_box: Sandbox) -> None:
    source = "def f(a, b=0):\n    return (a, b)\n"
    by_kwargs = process_box.run_one(source, "f", Invocation(args=(1,), kwargs=(("b", "x"),)))
    by_expression = process_box.run_one(source, "f", Invocation(expression="f(2, b=[3])"))
    assert codec.decode(by_kwargs.value) == (1, "x")
    assert codec.decode(by_expression.value) == (2, [3])


def test_missing_function_and_syntax_error_are_errors_of_the_code(process_box: Sandbox) -> None:
    missing = process_box.run_one("x = 1\n", "f", Invocation())
    broken = process_box.run_one("def f(:\n", "f", Invocation())
    assert (missing.error_type, missing.error_message) == ("NameError", "name 'f' is not defined")
    assert broken.error_type == "SyntaxError" and broken.infra_error is None


def test_main_block_does_not_run(process_box: Sandbox) -> None:
    source = "def f():\n    return __name__\nif __name__ == '__main__':\n    input()\n"
    result = process_box.run_one(source, "f", Invocation())
    assert result.value_str == MODULE_NAME


def test_helper_defined_before_target_is_usable(process_box: Sandbox) -> None:
    source = "def helper(x):\n    return x + 1\ndef f(x):\n    return helper(x)\n"
    assert process_box.run_one(source, "f", Invocation(args=(1,))).value_str == "2"


def test_per_call_limits_override_the_sandbox_limits(process_box: Sandbox) -> None:
    fast = Limits(timeout_s=0.3)
    result = process_box.run_one(
        "import time\ndef f():\n    time.sleep(5)\n", "f", Invocation(), fast
    )
    assert result.timed_out and result.duration_s < 3


def test_stdout_is_captured(process_box: Sandbox) -> None:
    result = process_box.run_one("def f():\n    print('hi')\n    return None\n", "f", Invocation())
    assert result.stdout == "hi\n" and result.value == {"t": "none"}


def test_surrogates_and_big_ints_survive(process_box: Sandbox) -> None:
    value = ["\ud800x", 3**4000, -0.0, float("inf")]
    result = process_box.run_one("def f(x):\n    return x\n", "f", Invocation(args=(value,)))
    decoded = codec.decode(result.value)
    assert decoded[:2] == value[:2] and str(decoded[2]) == "-0.0" and decoded[3] == float("inf")


def test_truncated_values_compare_by_digest(process_box: Sandbox) -> None:
    source = "def f(n):\n    return 'y' * n\n"
    a, b, c = process_box.run(
        source,
        "f",
        [Invocation(args=(10**6,)), Invocation(args=(10**6,)), Invocation(args=(10**6 + 1,))],
    )
    assert a.truncated and a.value == b.value and a.value != c.value
    assert a.value["type"] == "truncated:str"


@pytest.mark.parametrize("bad", ["def f():\n    return 1\n\x00", "(" * 300])
def test_source_the_compiler_rejects_is_an_error_not_a_crash(
    process_box: Sandbox, bad: str
) -> None:
    result = process_box.run_one(bad, "f", Invocation())
    assert result.raised and result.infra_error is None


def test_code_that_keeps_killing_its_worker_cannot_stall_the_harness(process_box: Sandbox) -> None:
    from codearc_env.sandbox.workerbox import MAX_KILLS_PER_RUN

    source = "import os\ndef f(x):\n    os.kill(os.getppid(), 9)\n"
    results = process_box.run(source, "f", [Invocation(args=(i,)) for i in range(8)])
    assert len(results) == 8 and not any(r.infra_error for r in results)
    killed = [(r.error_type, r.error_message) for r in results[:MAX_KILLS_PER_RUN]]
    assert killed == [
        ("SandboxKilled", "the call killed its sandbox, and killed a fresh sandbox again")
    ] * MAX_KILLS_PER_RUN
    assert {(r.error_type, r.error_message) for r in results[MAX_KILLS_PER_RUN:]} == {
        ("SandboxKilled", f"not run: this code killed its sandbox {MAX_KILLS_PER_RUN} times in this run")
    }
    assert process_box.run_one("def f():\n    return 1\n", "f", Invocation()).value_str == "1"


def test_heavy_modules_load_into_the_worker_only_once_used() -> None:
    import warnings

    from codearc_env.sandbox import make_sandbox

    probe = "import sys\ndef f():\n    return 'numpy' in sys.modules\n"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with make_sandbox("process") as box:
            assert box.run_one(probe, "f", Invocation()).value_str == "False"
            uses = "import numpy\ndef f():\n    return int(numpy.int64(4))\n"
            assert box.run_one(uses, "f", Invocation()).value_str == "4"
            # Now loaded in the worker: later calls inherit it instead of importing it again.
            assert box.run_one(probe, "f", Invocation()).value_str == "True"


def test_an_empty_batch_returns_no_results(process_box: Sandbox) -> None:
    assert process_box.run("def f():\n    return 1\n", "f", []) == []
