"""``codearc oracle warm``: tables computed ahead, shared by concurrent writers, verified,
and found by the environments afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

from codearc_env.cli import main
from codearc_env.env import CodeARCEnv
from codearc_env.functions import builtin_suite
from codearc_env.oracle import warm as w
from codearc_env.sandbox import make_sandbox

THREE = builtin_suite("annotated")[:3]
pytestmark = pytest.mark.filterwarnings("ignore::codearc_env.sandbox.InsecureSandboxWarning")


def _process_box():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_sandbox("process")


@pytest.mark.slow
def test_warm_then_the_env_computes_no_reference_table(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path))
    first = w.warm(THREE, jobs=2, make_sandbox=_process_box)
    assert (first.computed, first.cached, first.failed) == (3, 0, [])
    again = w.warm(THREE, jobs=2, make_sandbox=_process_box)
    assert (again.computed, again.cached) == (0, 3)
    assert w.verify(THREE).missing == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        env = CodeARCEnv(split="builtin", backend="process")
    try:
        for fn in THREE:
            env.reset(options={"problem": fn.problem_id})
            _, reward, *_ = env.step({"kind": 1, "text": fn.code})
            assert reward == 1.0
        assert env._oracle.reference_computations == 0  # type: ignore[attr-defined]
    finally:
        env.close()


def test_verify_names_missing_and_corrupt_tables(tmp_path):
    report = w.verify(THREE, cache_dir=tmp_path)
    assert report.missing == [fn.problem_id for fn in THREE]
    key = w.base_key(THREE[0], 0, "default")
    (tmp_path / f"{key}.json").write_text('{"cache": 4, "key": "' + key + '", "expected": [')
    assert w.verify(THREE[:1], cache_dir=tmp_path).missing == [THREE[0].problem_id]
    assert report.lines()[0] == "0/3 reference tables ready (0 computed, 0 already cached) in " \
        f"{report.wall_s:.1f} s"


@pytest.mark.slow
def test_concurrent_writers_share_one_directory(tmp_path):
    argv = [sys.executable, "-m", "codearc_env.cli", "oracle", "warm", "--split", "builtin",
            "--variant", "annotated", "--limit", "4", "--jobs", "2", "--backend", "process",
            "--cache-dir", str(tmp_path)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert all(o[0].startswith("4/4 reference tables ready") for o in outs)
    assert w.verify(builtin_suite("annotated")[:4], cache_dir=tmp_path).missing == []
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")) == []
    assert len(list(tmp_path.glob("*.json"))) == 4


# Every option of `codearc oracle warm`, a non-default value, and where it must land.
FLAGS = {
    "--split": (["--split", "clean"], "split", "clean"),
    "--variant": (["--variant", "anonymized"], "variants", ("anonymized",)),
    "--jobs": (["--jobs", "3"], "jobs", 3),
    "--limit": (["--limit", "1"], "n_problems", 1),
    "--cache-dir": (["--cache-dir", "/c"], "cache_dir", "/c"),
    "--data-dir": (["--data-dir", "/d"], "data_dir", "/d"),
    "--backend": (["--backend", "process"], "backend", "process"),
    "--seed": (["--seed", "5"], "seed", 5),
    "--strength": (["--strength", "strong"], "strength", "strong"),
    "--verify": (["--verify"], "verify", True),
}


def _run_captured(monkeypatch, extra):
    seen: dict = {}

    def split_problems(split, variants, data_dir):
        seen.update(split=split, variants=tuple(variants), data_dir=data_dir)
        return [fn for v in variants for fn in builtin_suite(v)[:2]]

    def fake_warm(problems, *, jobs, make_sandbox, **settings):
        seen.update(jobs=jobs, n_problems=len(problems) // len(seen["variants"]),
                    backend=make_sandbox.args[0], verify=False, **settings)
        return w.WarmReport(problems=len(problems), computed=len(problems))

    def fake_verify(problems, **settings):
        seen.update(verify=True, n_problems=len(problems) // len(seen["variants"]), **settings)
        return w.WarmReport(problems=len(problems), cached=len(problems))

    monkeypatch.setattr(w, "split_problems", split_problems)
    monkeypatch.setattr(w, "warm", fake_warm)
    monkeypatch.setattr(w, "verify", fake_verify)
    base = ["oracle", "warm", "--split", "builtin"]
    assert main(base + extra) == 0
    return seen


def test_every_warm_flag_reaches_the_code_it_configures(monkeypatch, capsys):
    from codearc_env.cli import build_parser

    parser = build_parser()
    oracle = parser._subparsers._group_actions[0].choices["oracle"]
    warm = oracle._subparsers._group_actions[0].choices["warm"]
    options = {o for a in warm._actions for o in a.option_strings if o not in ("-h", "--help")}
    assert options == set(FLAGS), "every option needs a row in FLAGS"
    default = _run_captured(monkeypatch, [])
    for flag, (argv, name, value) in FLAGS.items():
        assert default.get(name) != value, f"{flag}: pick a value other than the default"
        assert _run_captured(monkeypatch, argv)[name] == value, flag


def test_bad_jobs_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["oracle", "warm", "--split", "builtin", "--jobs", "0"])
    assert info.value.code == 2
    assert "--jobs: expected a positive integer, got 0" in capsys.readouterr().err
