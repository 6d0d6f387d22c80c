"""The environment inside RL trainers: TRL's ``environment_factory`` and an OpenEnv server.

Every integration builds its conversations from :mod:`codearc_env.agents.vocabulary`, so a
policy trained here sees the prompts, tool schemas and observations the evaluation agents use.
See docs/training.md.
"""

from codearc_env.integrations.dataset import problem_rows, problems_dataset
from codearc_env.integrations.integrity import RunStats, run_stats
from codearc_env.integrations.trl import CodeARCToolEnv, TRLEnvFactory, codearc_trl_env

__all__ = [
    "CodeARCToolEnv",
    "RunStats",
    "TRLEnvFactory",
    "codearc_trl_env",
    "problem_rows",
    "problems_dataset",
    "run_stats",
]
