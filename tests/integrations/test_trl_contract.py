"""The adapter meets GRPOTrainer's environment_factory contract, checked as TRL checks it.

TRL's trainer needs torch to import, so these tests replay what it does with the factory
(trl/trainer/grpo_trainer.py, release 1.16.0): call it with no argument, list the public
functions of the instance's class (``reset`` and ``get_reward`` by name, every other public
one a tool), render each tool with transformers' ``get_json_schema``, call
``reset(**row)``, call tools with keyword arguments, and ``get_reward()``.
"""

from __future__ import annotations

import importlib.util
import inspect
import pickle
from pathlib import Path
from typing import Any

import pytest

from codearc_env.agents.vocabulary import EPISODE_OVER, TOOLS
from codearc_env.config import EnvConfig
from codearc_env.integrations import CodeARCToolEnv, codearc_trl_env, problem_rows
from codearc_env.integrations.trl import EpisodeOverError
from codearc_env.testing import toy_problems

from .conftest import TOY_ID


def trl_members(instance: Any) -> tuple[bool, bool, list[str]]:
    """(has reset, has get_reward, tool names) as TRL 1.16.0 finds them on the class."""
    names = [n for n, _ in inspect.getmembers(type(instance), predicate=inspect.isfunction)]
    tools = [n for n in names if n not in ("reset", "get_reward") and not n.startswith("_")]
    return "reset" in names, "get_reward" in names, tools


def test_public_methods_are_reset_get_reward_and_two_tools() -> None:
    env = codearc_trl_env(TOY_ID)()
    assert trl_members(env) == (True, True, ["query", "submit"])
    # Earlier releases list bound methods of the instance instead; the answer is the same.
    bound = [n for n, _ in inspect.getmembers(env, predicate=inspect.ismethod)]
    assert [n for n in bound if not n.startswith("_")] == ["get_reward", "query", "reset", "submit"]


def test_signatures() -> None:
    env = CodeARCToolEnv()  # no argument needed
    reset = inspect.signature(env.reset)
    assert [p.kind for p in reset.parameters.values()] == [inspect.Parameter.VAR_KEYWORD]
    assert inspect.signature(env.get_reward).parameters == {}
    assert list(inspect.signature(env.query).parameters) == ["calls"]
    assert list(inspect.signature(env.submit).parameters) == ["code"]


def test_tool_schemas_are_the_evaluation_tools() -> None:
    pytest.importorskip("transformers", reason="transformers renders TRL's tool schemas")
    from transformers.utils import get_json_schema

    env = codearc_trl_env(TOY_ID)()
    _, _, tools = trl_members(env)
    schemas = [get_json_schema(getattr(env, name)) for name in tools]
    assert schemas == list(TOOLS)


def test_installed_trl_discovers_tools_as_replayed_here() -> None:
    """Ties the replay above to the TRL release installed, when there is one (read, not
    imported: importing the trainer needs torch)."""
    spec = importlib.util.find_spec("trl")
    if spec is None or spec.origin is None:
        pytest.skip("trl is not installed")
    source = (Path(spec.origin).parent / "trainer" / "grpo_trainer.py").read_text()
    assert "inspect.getmembers(type(instance), predicate=inspect.isfunction)" in source
    assert 'if member_name not in ("reset", "get_reward") and not member_name.startswith("_")' in source
    assert "observation = environment.reset(**reset_kwargs)" in source
    assert "e.get_reward() if type(e) is _env_type else None" in source


def test_factory_pickles_and_builds_equal_instances() -> None:
    factory = codearc_trl_env(TOY_ID, b_io=20)
    clone = pickle.loads(pickle.dumps(factory))
    assert clone == factory
    assert isinstance(clone(), CodeARCToolEnv)
    assert clone.env_kwargs == {"b_io": 20, "on_infra_error": "truncate"}


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        (("CodeARC-Nope-v0",), {}, ValueError, "unknown environment id 'CodeARC-Nope-v0'; known: "),
        ((TOY_ID,), {"bio": 3}, ValueError, "unknown environment arguments: bio"),
        (
            (TOY_ID,),
            {"on_infra_error": "raise"},
            ValueError,
            "on_infra_error must stay 'truncate': the adapter ends the episode and accounts for "
            "the failure itself (see last_infra_error)",
        ),
        (
            (TOY_ID,),
            {"problems": [lambda: 1]},
            TypeError,
            "the environment arguments must be picklable (trainers copy the factory to worker "
            "processes): ",
        ),
    ],
)
def test_factory_rejects_bad_configuration(
    args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        codearc_trl_env(*args, **kwargs)
    assert str(caught.value).startswith(message)


def _toy_row(index: int = 0) -> dict[str, Any]:
    return problem_rows(problems=toy_problems())[index]


def test_tools_before_reset_and_after_the_end_raise() -> None:
    env = codearc_trl_env(TOY_ID)()
    with pytest.raises(RuntimeError, match=r"^call reset\(\) before query\(\)$"):
        env.query(calls="add(1, 2)")
    env.reset(**_toy_row())
    env.submit(code="def add(a, b):\n    return a + b")
    assert env.get_reward() == 1.0
    for call in (lambda: env.query(calls="add(1, 2)"), lambda: env.submit(code="x")):
        with pytest.raises(EpisodeOverError) as caught:
            call()
        assert str(caught.value) == EPISODE_OVER


def test_reset_needs_the_problem_id_column() -> None:
    env = codearc_trl_env(TOY_ID)()
    with pytest.raises(ValueError) as caught:
        env.reset(prompt=[{"role": "user", "content": ""}])
    assert str(caught.value) == (
        "reset() needs the row's 'problem_id' column; build the training dataset with "
        "codearc_env.integrations.problems_dataset()"
    )


def test_reset_refuses_a_row_built_for_other_budgets() -> None:
    row = problem_rows(problems=toy_problems(), b_io=20)[0]
    env = codearc_trl_env(TOY_ID)()  # b_io 30
    with pytest.raises(ValueError) as caught:
        env.reset(**row)
    assert str(caught.value) == (
        "the row's system prompt differs from this environment's (were the dataset and the "
        "factory given the same budgets?)"
    )
    assert codearc_trl_env(TOY_ID, b_io=20)().reset(**row).startswith("Hidden function: add")


def test_rows_and_factory_share_one_env_config() -> None:
    config = EnvConfig(b_io=20, b_oracle=3)
    rows = problem_rows(problems=toy_problems(), config=config)
    assert rows == problem_rows(problems=toy_problems(), b_io=20, b_oracle=3)
    assert rows != problem_rows(problems=toy_problems(), config=config, b_oracle=1)
    env = codearc_trl_env(TOY_ID, config=config)()
    assert env.reset(**rows[0]).startswith("Hidden function: add")
    assert env._env.unwrapped.config == EnvConfig(b_io=20, b_oracle=3, on_infra_error="truncate")


def test_reset_ignores_other_columns_and_returns_the_first_user_message() -> None:
    row = {**_toy_row(1), "difficulty": 3}
    text = codearc_trl_env(TOY_ID)().reset(**row)
    assert text.startswith("Hidden function: shout\n")
    assert text.endswith("Use the `query` tool to test inputs and the `submit` tool to hand in your program.")


def test_rows_and_dataset_columns() -> None:
    rows = problem_rows(problems=toy_problems(), repeats=3)
    assert [r["problem_id"] for r in rows] == [
        p for p in ("builtin/annotated/add", "builtin/annotated/shout", "builtin/annotated/first")
        for _ in range(3)
    ]
    assert rows[0]["prompt"][1] == {"role": "user", "content": ""}
    assert rows[0]["prompt"][0]["role"] == "system"
    with pytest.raises(ValueError, match="^repeats must be at least 1, not 0$"):
        problem_rows(problems=toy_problems(), repeats=0)
    from codearc_env.integrations import problems_dataset

    ds = problems_dataset(problems=toy_problems(), repeats=2)
    assert ds.column_names == ["prompt", "problem_id"] and ds.num_rows == 6
    assert ds[0] == rows[0]

