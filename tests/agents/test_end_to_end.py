"""Agents on the real environment: real sandboxes and the real oracle (no LLM).

The built-in suite needs no data; the real-data test runs a few benchmark problems.
"""

from __future__ import annotations

import json

import pytest

from codearc_env.agents.evaluate import EvalConfig, evaluate
from codearc_env.agents.generic_script import generic_model


def _backend() -> str:
    from codearc_env.sandbox import available_backends

    for name in ("bwrap", "docker"):
        if name in available_backends():
            return name
    pytest.skip("no secure sandbox backend (bwrap or docker) on this machine")


def _evaluate(tmp_path, model_factory=None, **settings):
    """A run into ``tmp_path`` on a secure backend, with the real oracle."""
    config = EvalConfig(out_dir=tmp_path, backend=_backend(), **settings)
    return evaluate(config, model_factory=model_factory)


def _results(tmp_path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]


@pytest.mark.bwrap
@pytest.mark.slow
def test_ground_truth_solves_the_builtin_suite(tmp_path):
    summary = _evaluate(
        tmp_path, agent="ground-truth", split="builtin", variant="both", concurrency=2
    )
    t = summary["total"]
    assert [r for r in _results(tmp_path) if r["status"] != "success"] == []
    assert t["solved"] == t["episodes"] > 0 and t["paper_oracle"] == 1.0 and t["paper_io"] == 0


@pytest.mark.bwrap
@pytest.mark.slow
def test_scripted_react_episodes_on_the_builtin_suite(tmp_path):
    summary = _evaluate(
        tmp_path, generic_model, agent="react", model="scripted/generic", split="builtin",
        limit=6, concurrency=2,
    )
    t = summary["total"]
    assert t["episodes"] == t["graded"] == 6
    rows = _results(tmp_path)
    # One query and two oracle calls per episode, whatever the outcome.
    assert all(r["n_io"] == 11 and r["n_oracle"] == 2 for r in rows if r["status"] == "failure")


@pytest.mark.realdata
@pytest.mark.bwrap
@pytest.mark.slow
def test_ground_truth_on_real_problems(tmp_path, data_dir):
    summary = _evaluate(
        tmp_path, agent="ground-truth", split="clean", variant="both", limit=5,
        data_dir=str(data_dir),
    )
    assert summary["total"]["solved"] == summary["total"]["episodes"] == 10
