"""The scale benchmark scripts (benchmarks/query_vs_original.py, benchmarks/throughput.py).

Each runs for real with tiny counts, as its command line, on bwrap: the tests check that the
output holds every figure, that the figures are measurements (positive rates, CPU time,
medians), and that every flag reaches what it configures. No test asserts a speed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest

from codearc_env.env import CodeARCEnv
from codearc_env.sandbox import unavailable_reason
from tests.benchmark_scripts import BENCHMARKS
from tests.benchmark_scripts import run_benchmark as _run

NUMBER = r"([0-9]+(?:\.[0-9]+)?)"


def _needs_bwrap() -> None:
    reason = unavailable_reason("bwrap")
    if reason is not None:
        pytest.skip(f"bwrap unavailable: {reason}")


def _load(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))  # the scripts import their shared helpers
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _medians(out: str, label: str) -> list[float]:
    return [float(x) for x in re.findall(re.escape(label) + r".*?median\s+" + NUMBER, out)]


# ---- query_vs_original.py ----------------------------------------------------------------

@pytest.mark.bwrap
@pytest.mark.slow
def test_query_vs_original_measures_every_way_with_the_given_settings(tmp_path: Path) -> None:
    _needs_bwrap()
    calls = tmp_path / "calls.log"
    wrapper = tmp_path / "python3"
    wrapper.write_text(f'#!/bin/sh\necho started >> "{calls}"\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    done = _run("query_vs_original.py", "--rounds", "2", "--builtin", "2", "--real", "0",
                "--calls-per-step", "3", "--backend", "bwrap", "--python", str(wrapper))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # --python is resolved once to the interpreter it starts, which then runs every query
    assert calls.read_text() == "started\n"
    assert f"original's interpreter: {sys.executable}; ours: backend bwrap; 2 rounds, " \
           "3 calls per multi-call step" in out
    assert "problems: 2 (0 real, none asked for)" in out
    assert re.search(r"processes of our sandboxes: bwrap [0-9]+, python3 [0-9]+", out)
    assert "[built-in] 2 problems, 4 queries each way" in out  # 2 rounds x 2 problems
    assert "[real]" not in out
    for label in ("(a) original", "(a') the same", "(b) ours, one call", "(c) ours, 3 calls"):
        medians = _medians(out, label)
        assert len(medians) == 2 and all(m > 0 for m in medians), (label, out)  # built-in, all
    ratios = re.findall(r"one call " + NUMBER + r"x, per call of a 3-call step " + NUMBER, out)
    assert len(ratios) == 4 and all(float(x) > 0 for pair in ratios for x in pair)
    assert out.count("disagreements with the stored outputs: 0") == 2


@pytest.mark.bwrap
@pytest.mark.slow
@pytest.mark.realdata
def test_query_vs_original_real_problems_from_the_data_dir(data_dir: Path) -> None:
    _needs_bwrap()
    done = _run("query_vs_original.py", "--rounds", "1", "--builtin", "0", "--real", "2",
                "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr
    assert f"problems: 2 (2 real, from {data_dir})" in done.stdout
    assert "[real] 2 problems, 2 queries each way" in done.stdout
    assert "[built-in]" not in done.stdout
    assert all(m > 0 for m in _medians(done.stdout, "(b) ours, one call"))


def test_query_vs_original_names_a_data_dir_without_data(tmp_path: Path) -> None:
    done = _run("query_vs_original.py", "--builtin", "0", "--data-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == f"--data-dir {tmp_path}: no problems.jsonl there"


@pytest.mark.bwrap
def test_a_wrong_stored_output_is_a_disagreement_for_both_ways(tmp_path: Path) -> None:
    _needs_bwrap()
    from dataclasses import replace

    script = _load("query_vs_original")
    common = _load("bench_common")
    fn = common.builtin_problems(1)[0]
    real = fn.examples[0].output
    first = replace(fn.examples[0], output="not what it returns")
    fn = replace(fn, examples=(first, *fn.examples[1:]))
    env = CodeARCEnv(problems=[fn], backend="bwrap", b_io=100)
    try:
        case = script.Case("builtin", fn, env, common.usable_examples(fn))
        script.one_round(case, 0, sys.executable, str(tmp_path), 1)  # the example k=0
    finally:
        env.close()
    printed = repr(f"Result 1: {real}\n")
    call = first.expression
    assert case.disagreements == [
        f"original {call}: {printed}",
        f"original -S {call}: {printed}",
        f"ours {call}: {real!r}",  # the one-call step
        f"ours {call}: {real!r}",  # the multi-call step, of one call here
    ]
    assert len(case.original_ms) == len(case.single_ms) == len(case.multi_ms) == 1


# ---- throughput.py -----------------------------------------------------------------------

FIGURES = ("queries/s, one call per step", "queries/s, 3 calls per step (per call)",
           "warm oracle checks/s", "scripted episodes/s")
TINY = ("--seconds", "0.3", "--threads", "2", "--problems", "2", "--calls-per-step", "3",
        "--backend", "bwrap")


def _table_cells(out: str, label: str) -> list[tuple[float, float]]:
    """The (rate per core, CPU ms) cells of the table row ``label``."""
    row = next(line for line in out.splitlines()[::-1] if line.startswith(label))
    return [(float(a), float(b)) for a, b in re.findall(NUMBER + r" \|\s*" + NUMBER, row)]


def _check_modes(out: str, modes: int) -> None:
    assert "problems: 2 built-in (" in out
    for figure in FIGURES:
        cells = _table_cells(out, figure)
        assert len(cells) == modes and all(rate > 0 and cpu > 0 for rate, cpu in cells), figure
        timed = re.findall(re.escape(figure) + r": [0-9]+ on 2 threads in " + NUMBER
                           + r" s = .* CPU " + NUMBER + r" ms each \(" + NUMBER
                           + r" in this process\)", out)
        assert len(timed) == modes, figure
        for seconds, cpu, own in timed:
            assert float(seconds) >= 0.3 and 0 < float(own) <= float(cpu), figure
    checked = re.findall(r"one check, median wall \(inputs run\): reference " + NUMBER
                         + r" ms \(([0-9]+)\)", out)
    assert len(checked) == modes and all(float(ms) > 0 and int(n) > 0 for ms, n in checked)


@pytest.mark.bwrap
@pytest.mark.slow
def test_throughput_table_alone_and_pool() -> None:
    _needs_bwrap()
    done = _run("throughput.py", *TINY, "--pool-size", "4", "--live", "3", "--live-alone", "2",
                "--no-ray")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    _check_modes(out, modes=2)
    assert "pool: 4 sandboxes, backend bwrap" in out
    assert re.search(r"memory: 2 live episodes, [0-9]+ processes .*bwrap [0-9]+", out)
    assert "memory: 3 live episodes" in out
    memory = re.findall(NUMBER + r" \((2|3)\)", _memory_row(out))
    assert [n for _, n in memory] == ["2", "3"] and all(float(mb) > 0 for mb, _ in memory)
    assert "[ray]" not in out and "ray / in-process" not in out and "[ray vs" not in out


def _memory_row(out: str) -> str:
    return next(line for line in out.splitlines() if line.startswith("memory per live episode"))


@pytest.mark.bwrap
@pytest.mark.slow
def test_throughput_through_ray_with_the_eval_comparison() -> None:
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install codearc-env[ray]")
    _needs_bwrap()
    done = _run("throughput.py", *TINY, "--pool-size", "2", "--live", "2", "--live-alone", "1",
                "--eval-limit", "1", "--eval-reps", "1", "--ray-reps", "2")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    _check_modes(out, modes=3)
    assert "pool: 2 sandboxes per host, backend bwrap" in out
    assert len(re.findall(NUMBER + r" \((1|2)\)", _memory_row(out))) == 3
    assert len(re.findall(r"in-process run 0: 1 solved", out)) == 1
    assert len(re.findall(r"--ray run 0: 1 solved", out)) == 1
    row = next(line for line in out.splitlines() if line.startswith("ground-truth eval"))
    rates = re.findall(NUMBER + r" \|\s+-", row)  # wall-time rates only
    assert len(rates) == 2 and all(float(rate) > 0 for rate in rates)
    assert "[ray vs in-process] scripted episodes, 2 x 0.15 s each way, in turn" in out
    reps = re.findall(r"rep ([0-9]): in-process [0-9]+ in " + NUMBER + r" s, ray [0-9]+ in "
                      + NUMBER + " s", out)
    assert [r[0] for r in reps] == ["0", "1"] and all(float(r[1]) > 0 for r in reps)
    for line in ("ray / in-process, wall time per scripted episode, runs in turn: ",
                 "measured minutes apart: ",
                 "--ray / in-process, wall time per ground-truth eval episode: "):
        assert float(re.search(re.escape(line) + NUMBER, out).group(1)) > 0


@pytest.mark.parametrize("backend", ["process", pytest.param("bwrap", marks=pytest.mark.bwrap)])
def test_resident_memory_reports_one_child_per_problem(backend: str) -> None:
    if backend == "bwrap":
        _needs_bwrap()
    done = _run("resident_memory.py", "--problems", "3", "--queries", "2", "--backend", backend)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert f"2 queries each of 3 built-in problems, {backend}" in out
    assert "; 3 resident children" in out
    private = re.search(r"private dirty: ([0-9.]+) MB", out)
    assert private is not None and float(private.group(1)) > 0, out


def test_throughput_needs_at_least_one_ray_rep() -> None:
    done = _run("throughput.py", "--no-ray", "--ray-reps", "0")
    assert done.returncode == 2
    assert "argument --ray-reps: must be at least 1, not 0" in done.stderr
