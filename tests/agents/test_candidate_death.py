"""``codearc eval`` (the runner) with a scripted model whose program kills its sandbox: the
episode is a graded failure, not an infrastructure error left out of the success rate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codearc_env.agents.evaluate import EvalConfig, evaluate
from codearc_env.agents.scripted import ScriptedModel, tool_reply
from tests.sandbox.conftest import BACKEND_PARAMS, require_backend

KILLER = (
    "import os, signal\n"
    "def {name}(*args, **kwargs):\n"
    "    os.kill(os.getppid(), signal.SIGKILL)\n"
    "    os.kill(os.getppid(), signal.SIGINT)\n"
    "    return None\n"
)


def killer_step(messages, tools):  # type: ignore[no-untyped-def]
    from codearc_env.agents.generic_script import _NAME, _first_user_text

    found = _NAME.search(_first_user_text(messages))
    return tool_reply(("submit", {"code": KILLER.format(name=found.group(1) if found else "f")}))


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_eval_grades_a_program_that_kills_its_sandbox_as_a_failure(
    tmp_path: Path, backend: str
) -> None:
    require_backend(backend)
    summary = evaluate(
        EvalConfig(
            out_dir=tmp_path,
            agent="react",
            model="scripted/killer",
            split="builtin",
            limit=2,
            backend=backend,
            concurrency=1,
        ),
        model_factory=lambda: ScriptedModel(
            [killer_step], repeat_last=True, name="scripted/killer"
        ),
    )
    rows = [json.loads(x) for x in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert [r["status"] for r in rows] == ["failure", "failure"]
    t = summary["total"]
    assert (t["episodes"], t["graded"], t["infra_errors"], t["solved"]) == (2, 2, 0, 0)
