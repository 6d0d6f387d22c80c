"""The run record: canonical settings hash, JSON-only model arguments, scope and version."""

from __future__ import annotations

import json

import pytest
from test_eval_cli import eval_argv, lines, main

from codearc_env.agents import settings as st
from codearc_env.agents.evaluate import EvalConfig, evaluate
from codearc_env.agents.settings import EvalConfigError, settings_hash
from codearc_env.config import EnvConfig


def test_hash_is_canonical():
    base = {"temperature": 1, "problems": ["b/2", "a/1"], "model_args": {"top_k": 20}}
    same = {"model_args": {"top_k": 20.0}, "problems": ["a/1", "b/2"], "temperature": 1.0}
    assert settings_hash(base) == settings_hash(same)
    assert settings_hash(base) != settings_hash({**base, "temperature": 1.5})
    # The scope (how much of the run to play) is not part of the hash.
    assert settings_hash({**base, "limit": 3, "samples": 2}) == settings_hash(base)


# The settings and hashes that EvalConfig produced while the environment's settings were
# its own fields (b_io, b_oracle, max_turns, oracle_seed, oracle_strength): a run recorded
# then must resume now without --force.
DEFAULT_SETTINGS = {
    "agent": "react", "model": "openai/m", "variants": ["annotated"], "split": "all",
    "problems": None, "limit": None, "seed": None, "samples": 1, "b_io": 30, "b_oracle": 2,
    "max_turns": 50, "max_invalid_in_a_row": 3, "episode_time_limit_s": None,
    "oracle_seed": 0, "oracle_strength": "default", "teacher": False,
    "force_tool_choice": False, "temperature": None, "max_tokens": None, "timeout_s": 180.0,
    "api_base": None, "model_args": {},
}


@pytest.mark.parametrize(
    ("model", "env", "expected_hash"),
    [
        ("openai/m", None, "a0fe1793c89d06e7"),
        ("local/smollm2", None, "3f349f257450fd9c"),
        (
            "openai/m",
            EnvConfig(b_io=20, b_oracle=3, max_turns=9, oracle_seed=4, oracle_strength="strong"),
            "5c14ee184f15c1e6",
        ),
    ],
)
def test_settings_hash_is_the_one_recorded_before_env_config(tmp_path, model, env, expected_hash):
    settings = EvalConfig(out_dir=tmp_path, model=model, env=env).settings()
    assert settings_hash(settings) == expected_hash
    if model == "openai/m" and env is None:
        assert settings == DEFAULT_SETTINGS


def test_model_args_must_be_json_data(tmp_path):
    config = EvalConfig(out_dir=tmp_path / "run", model="openai/m", model_args={"x": object()})
    with pytest.raises(
        EvalConfigError, match=r"^model_args\.x: a value of type object is not JSON data"
    ):
        evaluate(config)
    with pytest.raises(EvalConfigError, match=r"^model_args\.t: nan is not a JSON number"):
        EvalConfig(out_dir=tmp_path, model_args={"t": float("nan")}).settings()


def test_more_problems_or_samples_on_resume_need_no_force(toy_cli, tmp_path):
    out = tmp_path / "run"
    assert main(eval_argv(out, "--limit", "2")) == 0
    first = json.loads((out / "run.json").read_text())
    assert first["scope"] == {"limit": 2, "samples": 1}
    assert main(eval_argv(out, "--limit", "4", "--samples", "2", "--resume")) == 0
    after = json.loads((out / "run.json").read_text())
    assert after["run_settings_hash"] == first["run_settings_hash"]
    assert after["history"][-1]["scope"] == {"limit": [2, 4], "samples": [1, 2]}
    assert len(lines(out)) == 8
    assert {r["run_settings_hash"] for r in lines(out)} == {first["run_settings_hash"]}


def test_another_package_version_on_resume_is_a_note(toy_cli, tmp_path, monkeypatch, caplog):
    out = tmp_path / "run"
    monkeypatch.setattr(st, "__version__", "0.0.9")
    assert main(eval_argv(out, "--limit", "1")) == 0
    assert json.loads((out / "run.json").read_text())["package_version"] == "0.0.9"
    monkeypatch.setattr(st, "__version__", "0.1.0")
    assert main(eval_argv(out, "--limit", "1", "--resume")) == 0
    record = json.loads((out / "run.json").read_text())
    note = "run started under codearc-env 0.0.9, resumed under 0.1.0"
    assert record["package_version"] == "0.1.0" and record["history"][-1]["note"] == note
    assert note in caplog.text
