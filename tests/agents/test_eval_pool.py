"""``codearc eval`` on one shared sandbox pool: ``--pool-size`` reaches the pool the run uses."""

from __future__ import annotations

import argparse
import json
import warnings

import pytest

from codearc_env.agents import evaluate as ev
from codearc_env.agents.cli import register
from codearc_env.testing import live_descendants


def main(argv):
    parser = argparse.ArgumentParser(prog="codearc")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_pool_size_defaults_follow_concurrency(tmp_path):
    pools = [ev.make_pool(ev.EvalConfig(out_dir=tmp_path, concurrency=c, backend="process"))
             for c in (1, 3, 40)]
    assert [p.size for p in pools] == [2, 6, 8]
    for p in pools:
        p.close()
    assert ev.make_pool(ev.EvalConfig(out_dir=tmp_path, pool_size=0)) is None
    with pytest.raises(ValueError) as info:
        ev.make_pool(ev.EvalConfig(out_dir=tmp_path, pool_size=1))
    assert str(info.value) == "--pool-size must be 0 (no pool) or at least 2, got 1"


@pytest.mark.parametrize("value", ["1", "-2", "x"])
def test_pool_size_flag_refuses_what_cannot_be_a_pool(value, capsys):
    with pytest.raises(SystemExit):
        main(["eval", "--out", "d", "--pool-size", value])
    assert "expected 0 or an integer >= 2" in capsys.readouterr().err


@pytest.mark.slow
def test_pool_size_flag_reaches_the_pool_the_episodes_run_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CODEARC_CACHE_DIR", str(tmp_path / "cache"))
    made = []

    def recording_make_pool(config):
        pool = real_make_pool(config)
        made.append(pool)
        return pool

    real_make_pool = ev.make_pool
    monkeypatch.setattr(ev, "make_pool", recording_make_pool)
    before = live_descendants()
    out = tmp_path / "run"
    argv = ["eval", "--agent", "ground-truth", "--split", "builtin", "--limit", "4",
            "--concurrency", "3", "--backend", "process", "--pool-size", "2",
            "--out", str(out), "--no-progress"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the process backend says it is no boundary
        assert main(argv) == 0
    [pool] = made
    assert pool.size == 2 and pool.members[0].name == "process"
    assert pool.stats.reference_calls > 0 and pool.stats.candidate_calls >= 4
    assert pool.closed
    rows = [json.loads(x) for x in (out / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["success"] * 4
    assert json.loads((out / "run.json").read_text())["pool_size"] == 2
    assert live_descendants() - before == set()
