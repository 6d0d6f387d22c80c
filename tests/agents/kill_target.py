"""Run a slow scripted evaluation of the toy suite; test_runner.py kills it with SIGKILL.

Usage: python kill_target.py OUT_DIR [--resume] [--max-turns N]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import toys  # noqa: E402

from codearc_env.agents.evaluate import EvalConfig, evaluate  # noqa: E402
from codearc_env.agents.runner import Task  # noqa: E402
from codearc_env.agents.scripted import ScriptedModel  # noqa: E402
from codearc_env.config import EnvConfig  # noqa: E402

N_TASKS = 12


def slow_solver(messages, tools):
    time.sleep(0.15)  # slow enough for the test to kill the run mid-way
    return toys.solving_script(messages, tools)


def tasks() -> list[Task]:
    problems, _, _ = toys.toy_suite(N_TASKS)
    return [Task(p.problem_id, "annotated") for p in problems]


def main(out: str, resume: bool, max_turns: int | None = None) -> None:
    config = EvalConfig(
        out_dir=Path(out),
        agent="react",
        model="scripted",
        split="builtin",
        concurrency=3,
        resume=resume,
        env=EnvConfig(max_turns=max_turns) if max_turns is not None else None,
    )
    evaluate(
        config,
        model_factory=lambda: ScriptedModel([slow_solver], repeat_last=True, name="scripted"),
        env_factory=lambda variant: toys.make_env(N_TASKS),
        tasks=tasks(),
    )


if __name__ == "__main__":
    turns = int(sys.argv[sys.argv.index("--max-turns") + 1]) if "--max-turns" in sys.argv else None
    main(sys.argv[1], "--resume" in sys.argv, turns)
