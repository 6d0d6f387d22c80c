"""The env over the real CodeARC data (problem loading and observations; doubles for execution).

Execution against real sandboxes is covered in test_registered.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from codearc_env.env import CodeARCEnv
from codearc_env.errors import DataError
from codearc_env.functions import UnknownProblemError
from codearc_env.spaces import MAX_OUTPUT_CHARS
from codearc_env.testing import CallableSandbox, TableOracle

pytestmark = pytest.mark.realdata


def _env(data_dir: Path, **kwargs: Any) -> CodeARCEnv:
    return CodeARCEnv(
        data_dir=data_dir, reference_sandbox=CallableSandbox({}),
        candidate_sandbox=CallableSandbox({}), oracle=TableOracle({}), render_mode="ansi",
        **kwargs,
    )


@pytest.mark.parametrize("variant", ["annotated", "anonymized"])
def test_every_problem_observation_is_in_space(data_dir: Path, variant: str) -> None:
    env = _env(data_dir, variant=variant)
    assert len(env.problem_set) == 1114
    for index in range(0, 1114, 37):
        obs, info = env.reset(options={"problem": index})
        assert obs in env.observation_space
        assert info["problem_id"] == f"{variant}/{index}" and len(obs["calls"]) == 10
        fn = env.problem
        assert fn is not None and fn.code not in obs["text"]
        assert not any(c.startswith("print(") for c in obs["calls"] if fn.examples[0].expression)


def test_huge_initial_output_is_clipped_with_a_marker(data_dir: Path) -> None:
    env = _env(data_dir, variant="anonymized")
    obs, info = env.reset(options={"problem": 508})
    assert "large_output" in info["quirks"]
    longest = max(obs["outputs"], key=len)
    assert len(longest) == MAX_OUTPUT_CHARS and longest.endswith("characters, clipped]")
    assert obs in env.observation_space


def test_target_name_only_never_signature_or_docstring(data_dir: Path) -> None:
    env = _env(data_dir, variant="annotated")
    obs, _ = env.reset(options={"problem": 0})
    fn = env.problem
    assert fn is not None and obs["function_name"] == fn.target
    header = next(line for line in fn.code.splitlines() if line.startswith(f"def {fn.target}("))
    assert header not in obs["text"] and "->" not in obs["text"].splitlines()[0]


def test_splits_and_seeded_draws(data_dir: Path) -> None:
    env = _env(data_dir, variant="annotated", split="humaneval+")
    assert len(env.problem_set) == 78
    draws = [env.reset(seed=s)[1]["index"] for s in range(20)]
    assert all(0 <= i < 78 for i in draws)
    assert draws == [env.reset(seed=s)[1]["index"] for s in range(20)]


def test_unknown_split_and_problem(data_dir: Path) -> None:
    with pytest.raises(DataError, match="unknown split 'nope'"):
        _env(data_dir, split="nope")
    with pytest.raises(UnknownProblemError, match="no problem annotated/5000 in the dataset"):
        _env(data_dir, problem=5000)
